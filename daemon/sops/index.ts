// The sops engine's public surface: read and write sops 3.13 files (YAML, JSON, dotenv, INI,
// binary) interchangeably with `sops`, diff-stable, MAC always checked. Everything else in
// daemon/sops/ is internal to the engine, the RPC handlers and the jobs.
export {
  closeFile,
  encryptNew,
  extract,
  MAX_INPUT,
  OpenedFile,
  openFile,
  readInfo,
  renderPlain,
  rotate,
  sameValue,
  saveText,
  setValue,
  unsetValue,
  updateKeys,
  type EncryptSpec,
  type OpenOptions,
  type SaveResult,
  type SetResult,
  type SopsInfo,
  type SopsRevisionView,
  type TreePath,
  type WriteOptions,
} from './engine';
export { SOPS_VERSION, type SopsMetadata } from './metadata';
export type { MacState } from './crypt';
export type { SopsFormat } from './store';
export type { EncryptRules } from './options';
export type { KeyGroup, KeyGroupSpec, KeyServices, MasterKeyEntry } from './keys';
