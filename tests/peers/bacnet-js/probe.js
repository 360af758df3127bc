// An independent BACnet/IP client (@bacnet-js/client) for twin's tests.
//
// node probe.js PORT REQUEST_JSON
//
// PORT: the UDP port this client binds on 127.0.0.1 (the library's 0 means 47808).
// REQUEST_JSON: {"whois": [address...],
//                "read": [{address, type, instance, properties: [id...]}...],
//                "subscribe": [{address, type, instance}...], "notifications": N,
//                "write": [{address, type, instance, value, priority}...]}
// Addresses are "host:port". Sends Who-Is to each address, reads with
// ReadPropertyMultiple, writes present values (REAL), subscribes to COV (unconfirmed),
// prints "SUBSCRIBED", waits for N notifications per object, and prints one line
// "PROBE-RESULT {json}" with what the devices answered.
"use strict";
const bacnet = require("@bacnet-js/client");
const Client = bacnet.default;
const { ApplicationTag, PropertyIdentifier } = bacnet;

function plain(values) {
  return values.map((v) => (v && typeof v === "object" && "value" in v ? v.value : v));
}

async function main() {
  const [portText, requestText] = process.argv.slice(2);
  const request = JSON.parse(requestText);
  const out = { iams: [], reads: [], cov: [], writes: [] };
  const client = new Client({
    port: parseInt(portText, 10),
    interface: "127.0.0.1",
    broadcastAddress: "127.0.0.255",
    apduTimeout: 3000,
  });
  client.on("error", (error) => {
    out.error = String(error);
  });
  await new Promise((resolve) => client.on("listening", resolve));
  client.on("iAm", (content) => {
    out.iams.push({ address: content.header.sender.address, deviceId: content.payload.deviceId,
      vendorId: content.payload.vendorId });
  });
  const notifications = {};
  client.on("covNotifyUnconfirmed", (content) => {
    const p = content.payload;
    const key = `${content.header.sender.address}/${p.monitoredObjectId.type}:${p.monitoredObjectId.instance}`;
    (notifications[key] = notifications[key] || []).push({
      device: p.initiatingDeviceId,
      values: p.values.map((v) => ({ property: v.property.id, value: plain(v.value) })),
    });
  });
  for (const address of request.whois || []) {
    client.whoIs({ address });
  }
  if ((request.whois || []).length) {
    const deadline = Date.now() + 10000;
    while (out.iams.length < request.whois.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  for (const item of request.read || []) {
    const objectId = { type: item.type, instance: item.instance };
    try {
      const result = await client.readPropertyMultiple({ address: item.address }, [
        { objectId, properties: item.properties.map((id) => ({ id, index: 0xffffffff })) },
      ]);
      const values = {};
      for (const entry of result.values[0].values) {
        values[entry.id] = plain(entry.value);
      }
      out.reads.push({ ...item, values });
    } catch (error) {
      out.reads.push({ ...item, error: String(error.message || error) });
    }
  }
  for (const item of request.write || []) {
    const objectId = { type: item.type, instance: item.instance };
    try {
      await client.writeProperty({ address: item.address }, objectId, PropertyIdentifier.PRESENT_VALUE,
        [{ type: ApplicationTag.REAL, value: item.value }], { priority: item.priority });
      out.writes.push({ ...item, ok: true });
    } catch (error) {
      out.writes.push({ ...item, ok: false, error: String(error.message || error) });
    }
  }
  let id = 1;
  for (const item of request.subscribe || []) {
    const objectId = { type: item.type, instance: item.instance };
    try {
      await client.subscribeCov({ address: item.address }, objectId, id++, false, false, 120);
      out.cov.push({ ...item, subscribed: true });
    } catch (error) {
      out.cov.push({ ...item, error: String(error.message || error) });
    }
  }
  // the caller may change what the devices show once they are subscribed
  console.log("SUBSCRIBED");
  const wanted = request.notifications || 0;
  if (wanted && out.cov.length) {
    const deadline = Date.now() + (request.wait_ms || 30000);
    const done = () => out.cov.every((c) => {
      const got = notifications[`${c.address}/${c.type}:${c.instance}`] || [];
      return got.length >= wanted;
    });
    while (!done() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  out.notifications = notifications;
  client.close();
  console.log("PROBE-RESULT " + JSON.stringify(out));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
