"""How the Python suites reach the stack that deploy/up.sh started (its env file)."""
import os

import grpc


def channel(role="admin"):
    """A channel to dvsconfd: TLS with the stack's CA and `role`'s bearer token
    when the stack is secure (the default), plaintext otherwise. role=None: TLS
    without a token."""
    addr = os.environ["DVSCONF_ADDR"]
    ca = os.environ.get("DVSCONF_CA")
    if not ca:
        return grpc.insecure_channel(addr)
    with open(ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(f.read())
    if role:
        token = os.environ["DVSCONF_%s_TOKEN" % role.upper()]
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(addr, creds)
