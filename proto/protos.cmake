# The protobuf-c sources generated from proto/ and storage/store.proto, for
# the main build (CMakeLists.txt) and the fuzz build (tests/fuzz/cmake).
#
#   dvsconf_generate_protos(ROOT GEN_DIR OUT_SRCS)
#
# ROOT is the repository root; the generated .c/.h go under GEN_DIR and the
# .c files are listed in OUT_SRCS. Needs PROTOC_C (find_program).
function(dvsconf_generate_protos root gen_dir out_srcs)
  set(srcs
    ${gen_dir}/dvsconf/v1/dvsconf.pb-c.c
    ${gen_dir}/store.pb-c.c
    ${gen_dir}/grpc/health/v1/health.pb-c.c
    ${gen_dir}/google/protobuf/timestamp.pb-c.c)
  add_custom_command(
    OUTPUT ${srcs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_dir}
    COMMAND ${PROTOC_C} -I ${root}/proto -I /usr/include --c_out=${gen_dir}
            dvsconf/v1/dvsconf.proto grpc/health/v1/health.proto google/protobuf/timestamp.proto
    COMMAND ${PROTOC_C} -I ${root}/proto -I ${root}/storage --c_out=${gen_dir}
            ${root}/storage/store.proto
    DEPENDS ${root}/proto/dvsconf/v1/dvsconf.proto ${root}/storage/store.proto
            ${root}/proto/grpc/health/v1/health.proto
    COMMENT "protoc-c: generating C for proto/")
  set(${out_srcs} ${srcs} PARENT_SCOPE)
endfunction()
