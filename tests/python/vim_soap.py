"""A tiny vSphere SOAP client (urllib only) for changing vcsim between exports.

Only what test_api.py needs: log in, read properties, add a port group to a
switch, wait for a task.
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
