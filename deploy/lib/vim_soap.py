"""A tiny vSphere SOAP client (urllib only): what an operator does to vCenter
behind dvsconf's back, for the quickstart (deploy/vcenter.py) and the tests.

Log in, read properties, wait for tasks, add a port group, change a port
group's VLAN, destroy a switch (port groups first).
"""
import http.cookiejar
import ssl
import time
import urllib.request
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/", "v": "urn:vim25",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}


class VimError(Exception):
    pass


def moref(tag, type_, value):
    return '<%s type="%s">%s</%s>' % (tag, escape(type_), escape(value), tag)


class Vim:
    def __init__(self, sdk_url, user, password, timeout=30):
        self.url, self.timeout = sdk_url, timeout
        handlers = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if sdk_url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
        self.opener = urllib.request.build_opener(*handlers)
        sc = self.call("RetrieveServiceContent", moref("_this", "ServiceInstance", "ServiceInstance"))
        self.pc = sc.find(".//v:propertyCollector", NS).text
        sm = sc.find(".//v:sessionManager", NS).text
        self.call("Login", moref("_this", "SessionManager", sm) +
                  "<userName>%s</userName><password>%s</password>" % (escape(user), escape(password)))

    def call(self, method, body):
        envelope = ('<?xml version="1.0" encoding="UTF-8"?>'
                    '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsi="%s">'
                    '<soapenv:Body><%s xmlns="urn:vim25">%s</%s></soapenv:Body></soapenv:Envelope>'
                    % (NS["s"], NS["xsi"], method, body, method))
        req = urllib.request.Request(self.url, data=envelope.encode(), method="POST", headers={
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:vim25/7.0"})
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                data = resp.read()
        except urllib.error.HTTPError as e:  # a SOAP fault comes with HTTP 500
            data = e.read()
        root = ET.fromstring(data)
        fault = root.find(".//s:Fault", NS)
        if fault is not None:
            raise VimError("%s: %s" % (method, fault.findtext("faultstring")))
        return root.find(".//v:%sResponse" % method, NS)

    def get(self, type_, value, path):
        """One property of one object, as an XML element (None when unset)."""
        body = (moref("_this", "PropertyCollector", self.pc) +
                "<specSet><propSet><type>%s</type><pathSet>%s</pathSet></propSet>"
                "<objectSet>%s</objectSet></specSet>" % (type_, path, moref("obj", type_, value)))
        resp = self.call("RetrieveProperties", body)
        return resp.find(".//v:propSet/v:val", NS)

    def wait_task(self, task, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get("Task", task, "info.state").text
            if state == "success":
                return
            if state == "error":
                raise VimError("task %s failed" % task)
            time.sleep(0.1)
        raise VimError("task %s still running after %ss" % (task, timeout))

    def add_portgroup(self, existing_pg_key, name, num_ports=8):
        """Add port group `name` to the switch that port group `existing_pg_key` is on."""
        dvs = self.get("DistributedVirtualPortgroup", existing_pg_key, "config.distributedVirtualSwitch")
        if dvs is None:
            raise VimError("port group %s: no switch" % existing_pg_key)
        spec = ("<spec><name>%s</name><numPorts>%d</numPorts><type>earlyBinding</type></spec>"
                % (escape(name), num_ports))
        resp = self.call("AddDVPortgroup_Task", moref("_this", dvs.get("type"), dvs.text) + spec)
        self.wait_task(resp.find("v:returnval", NS).text)

    def pg_moref(self, key):
        return moref("_this", "DistributedVirtualPortgroup", key)

    def find_pg(self, name):
        """The key of the port group called `name`."""
        body = (moref("_this", "PropertyCollector", self.pc) +
                "<specSet><propSet><type>DistributedVirtualPortgroup</type><pathSet>name</pathSet>"
                "</propSet><objectSet>%s<skip>true</skip><selectSet xsi:type=\"TraversalSpec\">"
                "<name>v</name><type>ContainerView</type><path>view</path><skip>false</skip>"
                "</selectSet></objectSet></specSet>")
        sc = self.call("RetrieveServiceContent", moref("_this", "ServiceInstance", "ServiceInstance"))
        vm = sc.find(".//v:viewManager", NS).text
        root = sc.find(".//v:rootFolder", NS).text
        view = self.call("CreateContainerView", moref("_this", "ViewManager", vm) +
                         moref("container", "Folder", root) +
                         "<type>DistributedVirtualPortgroup</type><recursive>true</recursive>")
        view_ref = view.find("v:returnval", NS).text
        resp = self.call("RetrieveProperties", body % moref("obj", "ContainerView", view_ref))
        self.call("DestroyView", moref("_this", "ContainerView", view_ref))
        for obj in resp.findall("v:returnval", NS):
            if obj.findtext("v:propSet/v:val", namespaces=NS) == name:
                return obj.find("v:obj", NS).text
        raise VimError("no port group named %s" % name)

    def set_vlan(self, key, name, vlan):
        """Reconfigure a port group's VLAN. vcsim replaces the whole config on
        reconfigure, so the spec repeats the teaming policy vcsim's port groups
        carry."""
        spec = (
            "<spec><name>%s</name>"
            '<defaultPortConfig xsi:type="VMwareDVSPortSetting">'
            '<vlan xsi:type="VmwareDistributedVirtualSwitchVlanIdSpec">'
            "<inherited>false</inherited><vlanId>%d</vlanId></vlan>"
            '<uplinkTeamingPolicy xsi:type="VmwareUplinkPortTeamingPolicy"><inherited>false</inherited>'
            "<policy><inherited>false</inherited><value>loadbalance_srcid</value></policy>"
            "<notifySwitches><inherited>false</inherited><value>true</value></notifySwitches>"
            "<rollingOrder><inherited>false</inherited><value>true</value></rollingOrder>"
            "</uplinkTeamingPolicy></defaultPortConfig></spec>" % (escape(name), vlan))
        resp = self.call("ReconfigureDVPortgroup_Task", self.pg_moref(key) + spec)
        self.wait_task(resp.find("v:returnval", NS).text)

    def destroy_switch(self, any_pg_key):
        """Destroy the switch that port group `any_pg_key` is on, the way an
        operator would: its port groups first, then the switch."""
        dvs = self.get("DistributedVirtualPortgroup", any_pg_key, "config.distributedVirtualSwitch")
        pgs = self.get(dvs.get("type"), dvs.text, "portgroup")
        for key in [e.text for e in pgs.findall("v:ManagedObjectReference", NS)]:
            resp = self.call("Destroy_Task", self.pg_moref(key))
            self.wait_task(resp.find("v:returnval", NS).text)
        resp = self.call("Destroy_Task", moref("_this", dvs.get("type"), dvs.text))
        self.wait_task(resp.find("v:returnval", NS).text)
