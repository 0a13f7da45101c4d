// @tsvmm/virtio/node: the host backends that need Node (files, sockets, the terminal). Browser code imports
// @tsvmm/virtio only.
export {
  FileBlockBackend,
  type FileBlockBackendOptions,
  type FileDiscardMethod,
} from "./block/file-block-backend.node.js";
export { StdioCharBackend, type StdioCharBackendOptions } from "./console/stdio-char-backend.node.js";
export { UnixSocketCharBackend } from "./console/unix-socket-char-backend.node.js";
export { type SocketAddress, SocketNetBackend } from "./net/socket-net-backend.node.js";
export { TapNetBackend, TapNetBackendError, type TapNetBackendOptions } from "./net/tap-net-backend.node.js";
export { FileEntropySource } from "./rng/file-entropy-source.node.js";
