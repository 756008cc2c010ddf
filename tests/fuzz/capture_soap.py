#!/usr/bin/python3
"""Capture real RetrievePropertiesEx responses from vcsim: the seeds of the
SOAP parser fuzz target (tests/fuzz/fuzz_soap.c).

    capture_soap.py SDK_URL USER PASSWORD OUT_DIR

Sends the query the vsphere adapter's read_live() sends (one switch, its
config, summary.hostMember, parent, and every port group's config through a
TraversalSpec), for every switch on the plane, once as vcsim has it and once
after giving port groups a VLAN, a trunk, a private VLAN and shaping (the
other shapes of VMwareDVSPortSetting the parser maps). Writes the raw
response bodies, byte for byte, as OUT_DIR/<name>.xml. tests/fuzz/run.sh
runs it when VCSIM_LAUNCHER is set; tests/fuzz/seeds/soap/ holds a copy.
"""
import os
import sys
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../deploy/lib"))
from vim_soap import NS, Vim, moref  # noqa: E402

READ_LIVE_SPEC = (
    "<specSet><propSet><type>DistributedVirtualSwitch</type><pathSet>name</pathSet>"
    "<pathSet>config</pathSet><pathSet>summary.hostMember</pathSet>"
    "<pathSet>parent</pathSet></propSet>"
    "<propSet><type>DistributedVirtualPortgroup</type><pathSet>config</pathSet></propSet>"
    "<objectSet>%s<skip>false</skip><selectSet xsi:type=\"TraversalSpec\"><name>pgs</name>"
    "<type>DistributedVirtualSwitch</type><path>portgroup</path><skip>false</skip>"
    "</selectSet></objectSet></specSet><options/>")


def raw_call(vim, method, body):
    envelope = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsi="%s">'
                '<soapenv:Body><%s xmlns="urn:vim25">%s</%s></soapenv:Body></soapenv:Envelope>'
                % (NS["s"], NS["xsi"], method, body, method))
    req = urllib.request.Request(vim.url, data=envelope.encode(), method="POST",
                                 headers={"Content-Type": "text/xml; charset=utf-8"})
    with vim.opener.open(req, timeout=30) as resp:
        return resp.read()


def switches(vim):
    sc = vim.call("RetrieveServiceContent", moref("_this", "ServiceInstance", "ServiceInstance"))
    vm, root = sc.find(".//v:viewManager", NS).text, sc.find(".//v:rootFolder", NS).text
    view = vim.call("CreateContainerView", moref("_this", "ViewManager", vm) +
                    moref("container", "Folder", root) +
                    "<type>DistributedVirtualSwitch</type><recursive>true</recursive>")
    ref = view.find("v:returnval", NS).text
    resp = vim.call("RetrieveProperties", moref("_this", "PropertyCollector", vim.pc) +
                    "<specSet><propSet><type>DistributedVirtualSwitch</type><pathSet>name</pathSet>"
                    "</propSet><objectSet>%s<skip>true</skip><selectSet xsi:type=\"TraversalSpec\">"
                    "<name>v</name><type>ContainerView</type><path>view</path><skip>false</skip>"
                    "</selectSet></objectSet></specSet>" % moref("obj", "ContainerView", ref))
    vim.call("DestroyView", moref("_this", "ContainerView", ref))
    for obj in resp.findall("v:returnval", NS):
        o = obj.find("v:obj", NS)
        yield o.get("type"), o.text, obj.findtext("v:propSet/v:val", namespaces=NS)


def capture(vim, out, tag):
    for type_, value, name in switches(vim):
        data = raw_call(vim, "RetrievePropertiesEx", moref("_this", "PropertyCollector", vim.pc) +
                        READ_LIVE_SPEC % moref("obj", type_, value))
        ET.fromstring(data)  # well-formed
        path = os.path.join(out, "%s-%s.xml" % (tag, name))
        with open(path, "wb") as f:
            f.write(data)
        print("capture_soap: %s (%d bytes)" % (path, len(data)))


PG_SPEC = ('<spec><name>%s</name><type>earlyBinding</type><numPorts>16</numPorts>'
           '<description>captured for the fuzz seeds</description>'
           '<defaultPortConfig xsi:type="VMwareDVSPortSetting">%s'
           '<securityPolicy><inherited>false</inherited>'
           '<allowPromiscuous><inherited>false</inherited><value>true</value></allowPromiscuous>'
           '<macChanges><inherited>false</inherited><value>false</value></macChanges>'
           '<forgedTransmits><inherited>false</inherited><value>true</value></forgedTransmits>'
           '</securityPolicy>'
           '<inShapingPolicy><inherited>false</inherited><enabled><inherited>false</inherited>'
           '<value>true</value></enabled><averageBandwidth><inherited>false</inherited>'
           '<value>100000</value></averageBandwidth><peakBandwidth><inherited>false</inherited>'
           '<value>200000</value></peakBandwidth><burstSize><inherited>false</inherited>'
           '<value>4096</value></burstSize></inShapingPolicy>'
           '<uplinkTeamingPolicy xsi:type="VmwareUplinkPortTeamingPolicy"><inherited>false</inherited>'
           '<policy><inherited>false</inherited><value>failover_explicit</value></policy>'
           '<notifySwitches><inherited>false</inherited><value>true</value></notifySwitches>'
           '<rollingOrder><inherited>false</inherited><value>false</value></rollingOrder>'
           '<uplinkPortOrder><inherited>false</inherited><activeUplinkPort>uplink1</activeUplinkPort>'
           '<standbyUplinkPort>uplink2</standbyUplinkPort></uplinkPortOrder>'
           '</uplinkTeamingPolicy></defaultPortConfig></spec>')

VLANS = {
    "trunk": '<vlan xsi:type="VmwareDistributedVirtualSwitchTrunkVlanSpec"><inherited>false</inherited>'
             '<vlanId><start>100</start><end>200</end></vlanId>'
             '<vlanId><start>10</start><end>20</end></vlanId></vlan>',
    "pvlan": '<vlan xsi:type="VmwareDistributedVirtualSwitchPvlanSpec"><inherited>false</inherited>'
             '<pvlanId>42</pvlanId></vlan>',
    "vlan": '<vlan xsi:type="VmwareDistributedVirtualSwitchVlanIdSpec"><inherited>false</inherited>'
            '<vlanId>1234</vlanId></vlan>',
}


def main():
    url, user, password, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    vim = Vim(url, user, password)
    capture(vim, out, "plain")
    keys = []
    for type_, value, name in switches(vim):
        pgs = vim.get(type_, value, "portgroup")
        keys += [e.text for e in pgs.findall("v:ManagedObjectReference", NS)]
    for key, (kind, vlan) in zip(keys[1:], VLANS.items()):  # keys[0] may be the uplink group
        name = vim.get("DistributedVirtualPortgroup", key, "name").text
        resp = vim.call("ReconfigureDVPortgroup_Task", vim.pg_moref(key) + PG_SPEC % (name, vlan))
        vim.wait_task(resp.find("v:returnval", NS).text)
    capture(vim, out, "policies")


if __name__ == "__main__":
    main()
