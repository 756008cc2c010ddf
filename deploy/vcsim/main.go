// Command vcsim runs VMware's vCenter simulator (govmomi 0.24.2, Debian's
// golang-github-vmware-govmomi-dev) for dvsconf's tests and benchmarks.
//
//	vcsim -listen 127.0.0.1:0 -dc 1 -cluster 1 -host 3 -pg 2 -url-file URL [-tls -cert-out CA.pem] [-test-hooks]
//
// It writes the URL (http[s]://USER:PASS@127.0.0.1:PORT/sdk) to -url-file once it
// serves, and runs until SIGTERM or SIGINT.
//
// # What this launcher adds to vcsim, and why
//
// vcsim 0.24.2 differs from vCenter in ways that matter to a DVS configuration
// tool. The launcher closes these gaps, each time doing what vCenter does:
//
//  1. Uplink port groups are marked. vCenter lists a switch's uplink port group
//     in config.uplinkPortgroup and sets config.uplink=true on it; vcsim creates
//     the "<switch>-DVUplinks-N" port group but marks it nowhere, so a client
//     cannot tell it from a user port group. Done at start and after every
//     CreateDVS_Task.
//  2. CreateDVS_Task keeps config.maxMtu and config.linkDiscoveryProtocolConfig
//     from the VMwareDVSConfigSpec (vcsim drops them) and adds the hosts of
//     configSpec.host (vcsim ignores them; vCenter adds them in the same task).
//     A host that does not exist (ManagedObjectNotFound) or is listed twice
//     (InvalidArgument) fails the task before anything is created.
//  3. ReconfigureDvs_Task applies the switch settings of the spec (vcsim applies
//     only host add/remove): description, contact, maxMtu, numStandalonePorts,
//     maxPorts, uplinkPortPolicy, linkDiscoveryProtocolConfig, and
//     defaultPortConfig merged policy by policy (a policy absent from the spec
//     keeps its value, as in vCenter). Limits: an empty string or 0 in the spec
//     cannot be told from "absent" after Go decoding, so it does not clear a
//     value; configVersion is still neither checked nor increased.
//
// These run in an HTTP handler in front of vcsim's own: it decodes the SOAP
// request with simulator.UnmarshalBody, lets vcsim serve it, then completes the
// call on vcsim's objects before the reply leaves (vcsim finishes tasks before
// replying). vcsim's own server listens on a second, unadvertised loopback port.
//
// # Test hooks (only with -test-hooks; never in anything but tests)
//
//	POST /dvsconf-test/fail?method=M&fault=F[&after=N][&count=K][&in=task|soap]
//	     The next K (default 1) calls of SOAP method M, after N (default 0) more
//	     calls that succeed, fail with vSphere fault F (any vim25 fault type name,
//	     e.g. InvalidArgument, DuplicateName, ResourceInUse, ConcurrentAccess).
//	     For a *_Task method the fault is reported in the task's info.error, as
//	     vCenter does for most failures (in=soap: as a SOAP fault instead, as
//	     vCenter does when it rejects the request before making a task). Nothing
//	     is changed by a failed call. One rule per method; a new one replaces it.
//	GET  /dvsconf-test/counts    JSON object: SOAP method name -> calls seen on
//	                             the advertised port since start or reset.
//	POST /dvsconf-test/reset     Clears counts and fault rules, turns paging off.
//	POST /dvsconf-test/page?size=N
//	     Pages property collector results as vCenter does (vcsim never does,
//	     so a client's paging loop would otherwise never run): a
//	     RetrievePropertiesEx result with more than N objects comes back as
//	     RetrieveResult{token, its first N objects}; ContinueRetrievePropertiesEx
//	     (token) returns the next N, with a new token while more remain;
//	     CancelRetrievePropertiesEx(token) drops the rest. The rest is kept here,
//	     for the session that made it (vCenter's collector is per session); an
//	     unknown, used or cancelled token, or one from another session, gets
//	     InvalidArgument. The objects are vcsim's own XML, cut apart, not
//	     re-encoded. size=0 turns paging off (for later calls); reset also
//	     drops the kept results.
//	POST /dvsconf-test/expire-session
//	     SOAP calls reach vcsim without their session cookie until the next
//	     Login, as if the session had expired: vcsim answers NotAuthenticated
//	     and the client must log in again.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

const sdkPath = "/sdk"

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (loopback only)")
	dc := flag.Int("dc", 1, "datacenters")
	cluster := flag.Int("cluster", 1, "clusters per datacenter")
	host := flag.Int("host", 3, "hosts per cluster")
	pg := flag.Int("pg", 1, "port groups on the model switch DVS0 (per datacenter)")
	vm := flag.Int("vm", 0, "virtual machines per resource pool (their NICs use the first port group)")
	useTLS := flag.Bool("tls", false, "serve https with a new self-signed certificate")
	certOut := flag.String("cert-out", "", "with -tls: write the certificate (PEM) here, for clients to trust")
	urlFile := flag.String("url-file", "", "write the URL here once serving")
	username := flag.String("username", "user", "login user name")
	password := flag.String("password", "pass", "login password")
	hooks := flag.Bool("test-hooks", false, "enable the /dvsconf-test/ endpoints (fault injection, call counts)")
	trace := flag.Bool("trace", false, "log SOAP traffic to stderr")
	flag.Parse()
	log.SetPrefix("vcsim: ")

	if err := checkLoopback(*listen); err != nil {
		log.Fatal(err)
	}
	if *certOut != "" && !*useTLS {
		log.Fatal("-cert-out needs -tls")
	}
	simulator.Trace = *trace
	sig := make(chan os.Signal, 1) // from the start: a stop must always clean up
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	model := simulator.VPX()
	model.Datacenter = *dc
	model.Cluster = *cluster
	model.ClusterHost = *host
	model.Host = 0 // no standalone hosts: every host is in a cluster
	model.Portgroup = *pg
	model.Machine = *vm
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	// A fresh Userinfo (not simulator.DefaultLogin) makes vcsim check the
	// password instead of accepting any non-empty one.
	login := url.UserPassword(*username, *password)
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: login}
	inner := model.Service.NewServer()
	defer inner.Close()

	for _, obj := range simulator.Map.All("DistributedVirtualSwitch") {
		markUplinks(obj.(*simulator.DistributedVirtualSwitch))
	}

	f := &front{next: inner.Config.Handler}
	if *hooks {
		f.hooks = newTestHooks()
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if *useTLS {
		cert, certPEM, err := selfSignedCert()
		if err != nil {
			log.Fatal(err)
		}
		if *certOut != "" {
			if err := writeFileAtomic(*certOut, certPEM); err != nil {
				log.Fatal(err)
			}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	go func() {
		var err error
		if *useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	u := url.URL{Scheme: scheme, User: login, Host: ln.Addr().String(), Path: sdkPath}
	if *urlFile != "" {
		if err := writeFileAtomic(*urlFile, []byte(u.String()+"\n")); err != nil {
			log.Fatal(err)
		}
		defer os.Remove(*urlFile)
	}
	fmt.Println(u.String())
	<-sig
	_ = srv.Close()
}

func checkLoopback(addr string) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %v", addr, err)
	}
	if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: only a loopback address is allowed", addr)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfSignedCert makes a P-256 certificate for 127.0.0.1, ::1 and localhost,
// valid for a day; it is its own CA, so clients can trust it with a CA file.
func selfSignedCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dvsconf vcsim"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, certPEM, err
}

// front serves the advertised port: test hooks, then vcsim, then the
// completions of the methods vcsim implements only in part.
type front struct {
	next  http.Handler
	hooks *testHooks // nil unless -test-hooks
	mu    sync.Mutex // one extended method at a time
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.hooks != nil && strings.HasPrefix(r.URL.Path, "/dvsconf-test/") {
		f.hooks.ServeHTTP(w, r)
		return
	}
	if r.URL.Path != sdkPath || r.Method != http.MethodPost {
		f.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	m, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		f.next.ServeHTTP(w, r) // vcsim reports the bad request
		return
	}

	if f.hooks != nil {
		f.hooks.count(m.Name)
		if f.hooks.takeExpiry(m.Name) {
			r.Header.Del("Cookie")
		}
		if f.hooks.armed(m.Name) && f.authenticated(r) {
			if rule := f.hooks.take(m.Name); rule != nil {
				rule.reply(w, m)
				return
			}
		}
	}

	switch m.Name {
	case "CreateDVS_Task":
		req := m.Body.(*types.CreateDVS_Task)
		if fault := checkHosts(req.Spec.ConfigSpec.GetDVSConfigSpec().Host); fault != nil && f.authenticated(r) {
			replyFailedTask(w, m, fault, reflect.TypeOf(fault).Elem().Name())
			return
		}
		f.complete(w, r, func(res types.AnyType) types.BaseMethodFault {
			return afterCreateDVS(req, res.(types.ManagedObjectReference))
		})
	case "ReconfigureDvs_Task":
		req := m.Body.(*types.ReconfigureDvs_Task)
		f.complete(w, r, func(types.AnyType) types.BaseMethodFault {
			afterReconfigureDvs(req)
			return nil
		})
	case "RetrievePropertiesEx":
		if n := f.hooks.pageSize(); n > 0 {
			f.firstPage(w, r, n)
		} else {
			f.next.ServeHTTP(w, r)
		}
	case "ContinueRetrievePropertiesEx", "CancelRetrievePropertiesEx":
		if f.hooks != nil && f.authenticated(r) { // else vcsim: NotAuthenticated or MethodNotFound
			f.hooks.nextPage(w, r, m)
		} else {
			f.next.ServeHTTP(w, r)
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

// authenticated tells whether r carries a live session, by asking vcsim
// CurrentTime (refused without a session) with r's cookies.
func (f *front) authenticated(r *http.Request) bool {
	probe := httptest.NewRequest(http.MethodPost, sdkPath, strings.NewReader(soapEnvelope(
		`<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>`)))
	probe.Header.Set("Cookie", r.Header.Get("Cookie"))
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, probe)
	return rec.Code == http.StatusOK
}

var taskRefRE = regexp.MustCompile(`<returnval type="Task">([^<]+)</returnval>`)

// complete lets vcsim serve r, then, when the task it made succeeded, runs
// after on the task's result; a fault from after fails the task.
func (f *front) complete(w http.ResponseWriter, r *http.Request, after func(types.AnyType) types.BaseMethodFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		if sm := taskRefRE.FindSubmatch(rec.Body.Bytes()); sm != nil {
			ref := types.ManagedObjectReference{Type: "Task", Value: string(sm[1])}
			if t, ok := simulator.Map.Get(ref).(*simulator.Task); ok && t.Info.State == types.TaskInfoStateSuccess {
				if fault := after(t.Info.Result); fault != nil {
					failTask(t, fault, reflect.TypeOf(fault).Elem().Name())
				}
			}
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func failTask(t *simulator.Task, fault types.BaseMethodFault, msg string) {
	simulator.Map.Update(t, []types.PropertyChange{
		{Name: "info.state", Val: types.TaskInfoStateError},
		{Name: "info.result", Val: nil},
		{Name: "info.error", Val: types.LocalizedMethodFault{Fault: fault, LocalizedMessage: msg}},
	})
}

// markUplinks records a switch's uplink port group as vCenter does (see 1.).
func markUplinks(dvs *simulator.DistributedVirtualSwitch) {
	var pgs []types.ManagedObjectReference
	simulator.Map.WithLock(dvs, func() {
		cfg := dvs.Config.GetDVSConfigInfo()
		if len(cfg.UplinkPortgroup) > 0 {
			return
		}
		for _, ref := range dvs.Portgroup {
			pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup)
			if ok && strings.HasPrefix(pg.Name, dvs.Name+"-DVUplinks") {
				pgs = append(pgs, ref)
			}
		}
		cfg.UplinkPortgroup = pgs
	})
	for _, ref := range pgs { // not under the switch's lock: vcsim locks port group, then switch
		if pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup); ok {
			simulator.Map.WithLock(pg, func() { pg.Config.Uplink = types.NewBool(true) })
		}
	}
}

// checkHosts returns the fault vCenter reports for the member hosts of a
// new switch: ManagedObjectNotFound for a host that does not exist,
// InvalidArgument for one listed twice.
func checkHosts(members []types.DistributedVirtualSwitchHostMemberConfigSpec) types.BaseMethodFault {
	seen := map[types.ManagedObjectReference]bool{}
	for _, m := range members {
		if _, ok := simulator.Map.Get(m.Host).(*simulator.HostSystem); !ok {
			return &types.ManagedObjectNotFound{Obj: m.Host}
		}
		if seen[m.Host] {
			return &types.InvalidArgument{InvalidProperty: "configSpec.host"}
		}
		seen[m.Host] = true
	}
	return nil
}

// afterCreateDVS completes CreateDVS_Task (see 2.).
func afterCreateDVS(req *types.CreateDVS_Task, ref types.ManagedObjectReference) types.BaseMethodFault {
	dvs, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualSwitch)
	if !ok {
		return nil
	}
	simulator.Map.WithLock(dvs, func() {
		spec, ok1 := req.Spec.ConfigSpec.(*types.VMwareDVSConfigSpec)
		cfg, ok2 := dvs.Config.(*types.VMwareDVSConfigInfo)
		if ok1 && ok2 {
			cfg.MaxMtu = spec.MaxMtu
			cfg.LinkDiscoveryProtocolConfig = spec.LinkDiscoveryProtocolConfig
		}
	})
	markUplinks(dvs)
	if hosts := req.Spec.ConfigSpec.GetDVSConfigSpec().Host; len(hosts) > 0 {
		var res *methods.ReconfigureDvs_TaskBody
		simulator.Map.WithLock(dvs, func() {
			spec := &types.DVSConfigSpec{Host: hosts}
			res, _ = dvs.ReconfigureDvsTask(&types.ReconfigureDvs_Task{This: ref, Spec: spec}).(*methods.ReconfigureDvs_TaskBody)
		})
		if res != nil && res.Res != nil {
			if t, ok := simulator.Map.Get(res.Res.Returnval).(*simulator.Task); ok && t.Info.Error != nil {
				return t.Info.Error.Fault // not expected: checkHosts ran first
			}
		}
	}
	return nil
}

// afterReconfigureDvs applies the switch settings of the spec (see 3.).
func afterReconfigureDvs(req *types.ReconfigureDvs_Task) {
	dvs, ok := simulator.Map.Get(req.This).(*simulator.DistributedVirtualSwitch)
	if !ok {
		return
	}
	simulator.Map.WithLock(dvs, func() {
		spec := req.Spec.GetDVSConfigSpec()
		cfg := dvs.Config.GetDVSConfigInfo()
		if spec.Description != "" {
			cfg.Description = spec.Description
			dvs.Summary.Description = spec.Description
		}
		if spec.Contact != nil {
			cfg.Contact = *spec.Contact
		}
		if spec.NumStandalonePorts != 0 {
			cfg.NumStandalonePorts = spec.NumStandalonePorts
		}
		if spec.MaxPorts != 0 {
			cfg.MaxPorts = spec.MaxPorts
		}
		if spec.UplinkPortPolicy != nil {
			cfg.UplinkPortPolicy = spec.UplinkPortPolicy
		}
		if spec.DefaultPortConfig != nil {
			cfg.DefaultPortConfig = mergePortSetting(cfg.DefaultPortConfig, spec.DefaultPortConfig)
		}
		vspec, ok1 := req.Spec.(*types.VMwareDVSConfigSpec)
		vcfg, ok2 := dvs.Config.(*types.VMwareDVSConfigInfo)
		if ok1 && ok2 {
			if vspec.MaxMtu != 0 {
				vcfg.MaxMtu = vspec.MaxMtu
			}
			if vspec.LinkDiscoveryProtocolConfig != nil {
				vcfg.LinkDiscoveryProtocolConfig = vspec.LinkDiscoveryProtocolConfig
			}
		}
	})
}

// mergePortSetting returns cur with every policy that spec sets replaced.
func mergePortSetting(cur, spec types.BaseDVPortSetting) types.BaseDVPortSetting {
	if cur == nil || reflect.TypeOf(cur) != reflect.TypeOf(spec) {
		return spec
	}
	merged := reflect.New(reflect.TypeOf(cur).Elem())
	merged.Elem().Set(reflect.ValueOf(cur).Elem())
	mergeFields(merged.Elem(), reflect.ValueOf(spec).Elem())
	return merged.Interface().(types.BaseDVPortSetting)
}

func mergeFields(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		sf := src.Field(i)
		switch {
		case src.Type().Field(i).Anonymous && sf.Kind() == reflect.Struct:
			mergeFields(dst.Field(i), sf)
		case (sf.Kind() == reflect.Ptr || sf.Kind() == reflect.Interface) && !sf.IsNil():
			dst.Field(i).Set(sf)
		}
	}
}

// --- test hooks -------------------------------------------------------------

type faultRule struct {
	after, count int
	fault        string
	inSOAP       bool
}

type testHooks struct {
	mu     sync.Mutex
	counts map[string]int
	rules  map[string]*faultRule
	expire bool
	pageN  int                   // 0: no paging
	pages  map[string]*pagedRest // token -> what is left of a result
	tokens int                   // never reset: old tokens stay unknown
}

// pagedRest is what a paged result has not returned yet.
type pagedRest struct {
	session string   // vmware_soap_session cookie of the call that made it
	n       int      // page size
	objects [][]byte // <objects> elements as vcsim wrote them
}

func newTestHooks() *testHooks {
	return &testHooks{counts: map[string]int{}, rules: map[string]*faultRule{}, pages: map[string]*pagedRest{}}
}

func (h *testHooks) count(method string) {
	h.mu.Lock()
	h.counts[method]++
	h.mu.Unlock()
}

// takeExpiry tells whether this call must lose its session cookie: every
// call from expire-session up to and including the next Login does, so the
// client sees NotAuthenticated and its new Login makes a new session.
func (h *testHooks) takeExpiry(method string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.expire
	if method == "Login" {
		h.expire = false
	}
	return e
}

func (h *testHooks) armed(method string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rules[method] != nil
}

// take returns the rule when this call of method must fail.
func (h *testHooks) take(method string) *faultRule {
	h.mu.Lock()
	defer h.mu.Unlock()
	rule := h.rules[method]
	if rule == nil {
		return nil
	}
	if rule.after > 0 {
		rule.after--
		return nil
	}
	if rule.count--; rule.count <= 0 {
		delete(h.rules, method)
	}
	return rule
}

func (h *testHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/dvsconf-test/counts" && r.Method == http.MethodGet:
		h.mu.Lock()
		out, _ := json.Marshal(h.counts)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(out, '\n'))
	case r.URL.Path == "/dvsconf-test/reset" && r.Method == http.MethodPost:
		h.mu.Lock()
		h.counts = map[string]int{}
		h.rules = map[string]*faultRule{}
		h.expire = false
		h.pageN = 0
		h.pages = map[string]*pagedRest{}
		h.mu.Unlock()
	case r.URL.Path == "/dvsconf-test/page" && r.Method == http.MethodPost:
		n, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || n < 0 {
			http.Error(w, "size must be a number >= 0", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.pageN = n
		h.mu.Unlock()
	case r.URL.Path == "/dvsconf-test/expire-session" && r.Method == http.MethodPost:
		h.mu.Lock()
		h.expire = true
		h.mu.Unlock()
	case r.URL.Path == "/dvsconf-test/fail" && r.Method == http.MethodPost:
		q := r.URL.Query()
		rule := &faultRule{count: 1, fault: q.Get("fault"), inSOAP: q.Get("in") == "soap"}
		var err error
		if v := q.Get("after"); v != "" {
			rule.after, err = strconv.Atoi(v)
		}
		if v := q.Get("count"); v != "" && err == nil {
			rule.count, err = strconv.Atoi(v)
		}
		switch {
		case err != nil || rule.after < 0 || rule.count < 1:
			http.Error(w, "after and count must be numbers (after >= 0, count >= 1)", http.StatusBadRequest)
		case q.Get("method") == "":
			http.Error(w, "method is required", http.StatusBadRequest)
		case newFault(rule.fault) == nil:
			http.Error(w, fmt.Sprintf("fault %q is not a vim25 fault type", rule.fault), http.StatusBadRequest)
		default:
			h.mu.Lock()
			h.rules[q.Get("method")] = rule
			h.mu.Unlock()
		}
	default:
		http.NotFound(w, r)
	}
}

// newFault makes an empty vim25 fault of the given type name, or nil.
func newFault(name string) types.BaseMethodFault {
	t, ok := types.TypeFunc()(name)
	if !ok || t.Kind() != reflect.Struct {
		return nil
	}
	f, _ := reflect.New(t).Interface().(types.BaseMethodFault)
	return f
}

func (rule *faultRule) reply(w http.ResponseWriter, m *simulator.Method) {
	if rule.inSOAP || !strings.HasSuffix(m.Name, "_Task") {
		replySOAPFault(w, rule.fault, "", rule.fault+" injected by dvsconf-test")
		return
	}
	replyFailedTask(w, m, newFault(rule.fault), rule.fault+" injected by dvsconf-test")
}

// replySOAPFault answers with vSphere fault type name (fields: its XML).
func replySOAPFault(w http.ResponseWriter, name, fields, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, soapEnvelope(fmt.Sprintf(
		`<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>`+
			`<detail><%sFault xmlns="urn:vim25" xsi:type="%s">%s</%sFault></detail></soapenv:Fault>`,
		msg, name, name, fields, name)))
}

func (h *testHooks) pageSize() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pageN
}

// keep stores objects for ContinueRetrievePropertiesEx and returns their token.
func (h *testHooks) keep(session string, n int, objects [][]byte) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keepLocked(session, n, objects)
}

func (h *testHooks) keepLocked(session string, n int, objects [][]byte) string {
	h.tokens++
	token := strconv.Itoa(h.tokens)
	h.pages[token] = &pagedRest{session: session, n: n, objects: objects}
	return token
}

func sessionOf(r *http.Request) string {
	if c, err := r.Cookie("vmware_soap_session"); err == nil {
		return c.Value
	}
	return ""
}

// firstPage lets vcsim serve RetrievePropertiesEx and returns its first n
// objects and a token when there are more.
func (f *front) firstPage(w http.ResponseWriter, r *http.Request, n int) {
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if head, objects, tail, ok := splitObjects(body); rec.Code == http.StatusOK && ok && len(objects) > n {
		token := f.hooks.keep(sessionOf(r), n, objects[n:])
		page := [][]byte{head, []byte("<token>" + token + "</token>")}
		page = append(page, objects[:n]...)
		body = bytes.Join(append(page, tail), nil)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// nextPage serves ContinueRetrievePropertiesEx and CancelRetrievePropertiesEx.
func (h *testHooks) nextPage(w http.ResponseWriter, r *http.Request, m *simulator.Method) {
	var token string
	switch req := m.Body.(type) {
	case *types.ContinueRetrievePropertiesEx:
		token = req.Token
	case *types.CancelRetrievePropertiesEx:
		token = req.Token
	}
	h.mu.Lock()
	rest := h.pages[token]
	if rest != nil && rest.session == sessionOf(r) {
		delete(h.pages, token)
	} else {
		rest = nil
	}
	var page [][]byte
	next := ""
	if rest != nil && m.Name == "ContinueRetrievePropertiesEx" {
		page = rest.objects
		if len(page) > rest.n {
			page = rest.objects[:rest.n]
			next = h.keepLocked(rest.session, rest.n, rest.objects[rest.n:])
		}
	}
	h.mu.Unlock()
	if rest == nil {
		replySOAPFault(w, "InvalidArgument", "<invalidProperty>token</invalidProperty>",
			"A specified parameter was not correct: token")
		return
	}
	out := `<` + m.Name + `Response xmlns="urn:vim25">`
	if m.Name == "ContinueRetrievePropertiesEx" {
		out += "<returnval>"
		if next != "" {
			out += "<token>" + next + "</token>"
		}
		out += string(bytes.Join(page, nil)) + "</returnval>"
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, soapEnvelope(out+`</`+m.Name+`Response>`))
}

// splitObjects cuts vcsim's RetrievePropertiesEx response into everything up
// to and including <returnval>, each <objects> element in it, and the rest.
// ok is false for a response without objects (or one that does not parse).
func splitObjects(body []byte) (head []byte, objects [][]byte, tail []byte, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	var headEnd, start, end int64 = -1, 0, 0
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, false
		}
		switch t := tok.(type) {
		case xml.StartElement: // Envelope 1, Body 2, *Response 3, returnval 4, objects 5
			depth++
			if depth == 4 && t.Name.Local == "returnval" && headEnd < 0 {
				headEnd = d.InputOffset()
			} else if depth == 5 && t.Name.Local == "objects" {
				start = off
			}
		case xml.EndElement:
			if depth == 5 && t.Name.Local == "objects" {
				end = d.InputOffset()
				objects = append(objects, body[start:end])
			}
			depth--
		}
	}
	if headEnd < 0 || len(objects) == 0 {
		return nil, nil, nil, false
	}
	return body[:headEnd], objects, body[end:], true
}

// replyFailedTask answers a *_Task call with a new task that failed with fault.
func replyFailedTask(w http.ResponseWriter, m *simulator.Method, fault types.BaseMethodFault, msg string) {
	name := strings.TrimSuffix(m.Name, "_Task")
	task := simulator.CreateTask(m.This, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, fault
	})
	ref := task.Run()
	failTask(task, fault, msg) // a readable message instead of vcsim's "*types.X"
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, soapEnvelope(fmt.Sprintf(
		`<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>`, m.Name, ref.Value, m.Name)))
}

func soapEnvelope(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` +
		`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
		`xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` + // vcsim's objects use xsd: in xsi types
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>` + body +
		`</soapenv:Body></soapenv:Envelope>`
}
