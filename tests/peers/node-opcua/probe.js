// An independent OPC UA client (node-opcua) for twin's tests.
//
// node probe.js ENDPOINT PKI_FOLDER REQUEST_JSON
//
// REQUEST_JSON: {"subscribe": [nodeId...], "write": [[nodeId, dataType, value]...],
//                "read": [nodeId...]}
// Connects anonymously without security, subscribes as node-opcua's sample client does
// (a subscription, monitored items, then Server.GetMonitoredItems to check them), writes,
// reads, and prints one JSON line with what the server answered.
"use strict";
const {
  OPCUAClient,
  ClientSubscription,
  ClientMonitoredItem,
  AttributeIds,
  TimestampsToReturn,
  DataType,
  MessageSecurityMode,
  SecurityPolicy,
} = require("node-opcua-client");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

async function main() {
  const [endpoint, pki, requestText] = process.argv.slice(2);
  const request = JSON.parse(requestText);
  const out = {};
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
    clientCertificateManager: new OPCUACertificateManager({ rootFolder: pki }),
  });
  await client.connect(endpoint);
  const session = await client.createSession();
  try {
    if (request.subscribe && request.subscribe.length) {
      const subscription = ClientSubscription.create(session, {
        requestedPublishingInterval: 200,
        requestedLifetimeCount: 100,
        requestedMaxKeepAliveCount: 10,
        publishingEnabled: true,
      });
      await new Promise((resolve) => subscription.on("started", resolve));
      const values = {};
      const items = request.subscribe.map((nodeId) => {
        const item = ClientMonitoredItem.create(
          subscription,
          { nodeId, attributeId: AttributeIds.Value },
          { samplingInterval: 100, discardOldest: true, queueSize: 1 },
          TimestampsToReturn.Both,
        );
        item.on("changed", (dataValue) => {
          values[nodeId] = {
            status: dataValue.statusCode.name,
            value: dataValue.value ? dataValue.value.value : null,
          };
        });
        return item;
      });
      await Promise.all(
        items.map((item) => new Promise((resolve) => item.once("initialized", resolve))),
      );
      try {
        const result = await session.getMonitoredItems(subscription.subscriptionId);
        out.getMonitoredItems = {
          status: "Good",
          serverHandles: Array.from(result.serverHandles),
          clientHandles: Array.from(result.clientHandles),
        };
      } catch (error) {
        out.getMonitoredItems = { status: String(error.message || error) };
      }
      out.ownServerHandles = items.map((item) => item.monitoredItemId);
      out.ownClientHandles = items.map((item) => item.monitoringParameters.clientHandle);
      const deadline = Date.now() + 20000;
      while (Object.keys(values).length < items.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      out.values = values;
      await subscription.terminate();
    }
    out.writes = [];
    for (const [nodeId, dataType, value] of request.write || []) {
      const status = await session.write({
        nodeId,
        attributeId: AttributeIds.Value,
        value: { value: { dataType: DataType[dataType], value } },
      });
      out.writes.push(status.name);
    }
    out.reads = [];
    for (const nodeId of request.read || []) {
      const dataValue = await session.read({ nodeId, attributeId: AttributeIds.Value });
      const value = dataValue.value ? dataValue.value.value : null;
      out.reads.push({
        status: dataValue.statusCode.name,
        value: value && typeof value === "object" ? { ...value } : value,
      });
    }
  } finally {
    await session.close();
    await client.disconnect();
  }
  process.stdout.write("PROBE-RESULT " + JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`probe failed: ${error.stack || error}\n`);
  process.exit(1);
});
