// A BACnet/IP device served by @bacnet-js/client (no bacpypes3 in it), for twin's tests.
//
// node device.js PORT DEVICE_ID
//
// Binds 127.0.0.1:PORT, answers Who-Is with I-Am, ReadProperty, ReadPropertyMultiple
// and WriteProperty for the objects below, prints "LISTENING" once bound, and logs each
// accepted write as "WROTE {json}". Stops on SIGTERM or when stdin closes.
"use strict";
const bacnet = require("@bacnet-js/client");
const Client = bacnet.default;
const { ApplicationTag: T, ObjectType: O, PropertyIdentifier: P, ErrorClass, ErrorCode } = bacnet;

const [portText, deviceText] = process.argv.slice(2);
const deviceId = parseInt(deviceText, 10);
const flags = (fault, outOfService) => ({
  type: T.BIT_STRING,
  value: { bitsUsed: 4, value: [(fault ? 2 : 0) | (outOfService ? 8 : 0)] },
});
const real = (value) => ({ type: T.REAL, value });
const objects = {
  [`${O.DEVICE}:${deviceId}`]: {
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "peer-ahu" }],
    [P.VENDOR_IDENTIFIER]: [{ type: T.UNSIGNED_INTEGER, value: 260 }],
  },
  [`${O.ANALOG_INPUT}:1`]: {  // a healthy sensor
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "supply_air_temp" }],
    [P.PRESENT_VALUE]: [real(18.5)],
    [P.UNITS]: [{ type: T.ENUMERATED, value: 62 }],
    [P.STATUS_FLAGS]: [flags(false, false)],
  },
  [`${O.ANALOG_INPUT}:2`]: {  // a broken sensor: fault flag
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "return_air_temp" }],
    [P.PRESENT_VALUE]: [real(-40.0)],
    [P.UNITS]: [{ type: T.ENUMERATED, value: 62 }],
    [P.STATUS_FLAGS]: [flags(true, false)],
  },
  [`${O.ANALOG_INPUT}:3`]: {  // taken out of service by the operator
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "humidity" }],
    [P.PRESENT_VALUE]: [real(45.0)],
    [P.UNITS]: [{ type: T.ENUMERATED, value: 98 }],
    [P.STATUS_FLAGS]: [flags(false, true)],
  },
  [`${O.BINARY_INPUT}:1`]: {
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "fan_running" }],
    [P.PRESENT_VALUE]: [{ type: T.ENUMERATED, value: 1 }],
    [P.STATUS_FLAGS]: [flags(false, false)],
  },
  [`${O.MULTI_STATE_INPUT}:1`]: {  // 1 off, 2 cooling, 3 heating
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "mode" }],
    [P.PRESENT_VALUE]: [{ type: T.UNSIGNED_INTEGER, value: 2 }],
    [P.NUMBER_OF_STATES]: [{ type: T.UNSIGNED_INTEGER, value: 3 }],
    [P.STATUS_FLAGS]: [flags(false, false)],
  },
  [`${O.ANALOG_VALUE}:1`]: {  // a writable setpoint, 10..30
    [P.OBJECT_NAME]: [{ type: T.CHARACTER_STRING, value: "supply_air_set" }],
    [P.PRESENT_VALUE]: [real(20.0)],
    [P.UNITS]: [{ type: T.ENUMERATED, value: 62 }],
    [P.STATUS_FLAGS]: [flags(false, false)],
  },
};
objects[`${O.DEVICE}:${deviceId}`][P.OBJECT_LIST] = Object.keys(objects).map((key) => {
  const [type, instance] = key.split(":").map(Number);
  return { type: T.OBJECTIDENTIFIER, value: { type, instance } };
});

const error = (errorClass, errorCode) => [{ value: { type: "BacnetError", errorClass, errorCode } }];

const client = new Client({ port: parseInt(portText, 10), interface: "127.0.0.1" });
client.on("listening", () => console.log("LISTENING"));
client.on("whoIs", (content) => {
  const { lowLimit, highLimit } = content.payload;
  if (lowLimit !== undefined && (deviceId < lowLimit || deviceId > highLimit)) return;
  client.iAmResponse(content.header.sender, deviceId, bacnet.Segmentation.NO_SEGMENTATION, 260);
});
client.on("readProperty", (content) => {
  const { objectId, property } = content.payload;
  const object = objects[`${objectId.type}:${objectId.instance}`];
  if (!object) {
    client.errorResponse(content.header.sender, content.service, content.invokeId,
      ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
    return;
  }
  const value = object[property.id];
  if (!value) {
    client.errorResponse(content.header.sender, content.service, content.invokeId,
      ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY);
    return;
  }
  client.readPropertyResponse(content.header.sender, content.invokeId, objectId, property, value);
});
client.on("readPropertyMultiple", (content) => {
  const values = content.payload.properties.map((spec) => {
    const object = objects[`${spec.objectId.type}:${spec.objectId.instance}`];
    return {
      objectId: spec.objectId,
      values: spec.properties.map((property) => ({
        property,
        value: !object ? error(ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT)
          : object[property.id] || error(ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY),
      })),
    };
  });
  client.readPropertyMultipleResponse(content.header.sender, content.invokeId, values);
});
client.on("writeProperty", (content) => {
  const { objectId, value } = content.payload;
  const sender = content.header.sender;
  const object = objects[`${objectId.type}:${objectId.instance}`];
  const writable = objectId.type === O.ANALOG_VALUE && value.property.id === P.PRESENT_VALUE;
  if (!object || !writable) {
    client.errorResponse(sender, content.service, content.invokeId,
      ErrorClass.PROPERTY, ErrorCode.WRITE_ACCESS_DENIED);
    return;
  }
  const number = value.value[0].value;
  if (!(number >= 10 && number <= 30)) {
    client.errorResponse(sender, content.service, content.invokeId,
      ErrorClass.PROPERTY, ErrorCode.VALUE_OUT_OF_RANGE);
    return;
  }
  object[P.PRESENT_VALUE] = [real(number)];
  console.log("WROTE " + JSON.stringify({ objectId, value: number, priority: value.priority }));
  client.simpleAckResponse(sender, content.service, content.invokeId);
});
process.on("SIGTERM", () => { client.close(); process.exit(0); });
process.stdin.on("end", () => { client.close(); process.exit(0); });
process.stdin.resume();
