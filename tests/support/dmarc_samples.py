"""Small DMARC aggregate reports for tests: a valid one about example.test (5 messages,
3 passing), and hostile XML (entity expansion, an external DTD)."""

from __future__ import annotations

MINIMAL = b"""<?xml version="1.0"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <report_metadata><org_name>rx.test</org_name><email>r@rx.test</email>
    <report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086400</end>
    </date_range></report_metadata>
  <policy_published><domain>Example.TEST</domain><p>quarantine</p></policy_published>
  <record><row><source_ip>2001:db8::1</source_ip><count>3</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>
    </policy_evaluated></row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results><dkim><domain>example.test</domain><selector>s1</selector>
      <result>pass</result></dkim>
      <spf><domain>bounce.test</domain><scope>mfrom</scope><result>softfail</result></spf>
    </auth_results></record>
  <record><row><source_ip>192.0.2.9</source_ip><count>2</count>
    <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf>
    <reason><type>forwarded</type></reason></policy_evaluated></row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results/></record>
</feedback>"""

ENTITIES = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><feedback>&c;</feedback>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/evil.dtd"><feedback>&x;</feedback>"""
