// protobufjs ships a classic script (UMD) for browsers, which index.html loads first and
// which sets globalThis.protobuf; this module hands it to ES imports of "protobufjs/light.js"
// (the page's import map points them here).
export default globalThis.protobuf;
