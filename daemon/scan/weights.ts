// Model weights by name and by content: the pre-commit check refuses plaintext weights even in
// a repository without a policy. A file counts only when its extension is a weights format's
// AND its first bytes are that format's (a `.bin` of firmware or a `.pt` of Portuguese text is
// not a model). Formats, from their specifications:
// - safetensors: an 8-byte little-endian header length, then a JSON object (`{`).
// - PyTorch: a zip archive whose entries sit under one folder (`archive/data.pkl`, `.../version`,
//   `.../byteorder`; TorchScript adds `constants.pkl` and `code/`), or, before torch 1.6, a pickle
//   (protocol 2 or later: 0x80 then the protocol number). Pickles and joblib dumps (compressed
//   with zlib, gzip, bz2, xz, lzma or lz4) likewise.
// - GGUF (`GGUF`) and its predecessors GGML/GGMF/GGJT/GGLA/GGSN, stored little-endian.
// - ONNX: a protobuf ModelProto, which begins with ir_version (field 1, a small varint) and
//   goes on with another field of the message.
// - HDF5 (Keras .h5, .hdf5): the 8-byte signature at offset 0, 512, 1024 or 2048 (a user block
//   may come first); a Keras 3 `.keras` file is a zip holding `config.json`/`model.weights.h5`.
// - TensorFlow Lite: `TFL3` at offset 4 (a FlatBuffer file identifier).
// Only the first KiB is read (the hook holds no more of a large blob).

export interface WeightsKind {
  /** What the content is, for messages: "safetensors", "PyTorch (zip)". */
  format: string;
}

type Probe = (head: Buffer) => string | null;

const safetensors: Probe = (h) => {
  if (h.length < 10) return null;
  const n = h.readBigUInt64LE(0);
  if (n < 2n || n > 100_000_000n) return null;
  return h[8] === 0x7b ? 'safetensors' : null;
};

/** The name of the first entry of a zip archive (local file header), or null. */
export function firstZipEntry(h: Buffer): string | null {
  if (h.length < 30 || h.readUInt32LE(0) !== 0x04034b50) return null;
  const n = h.readUInt16LE(26);
  if (n === 0 || 30 + n > h.length) return null;
  return h.toString('latin1', 30, 30 + n);
}

const TORCH_ENTRY = /(?:^|\/)(?:data\.pkl|constants\.pkl|model\.json|version|byteorder|\.format_version|\.data\/|data\/\d+|code\/)/;

const torchZip: Probe = (h) => {
  const name = firstZipEntry(h);
  if (name === null) return null;
  return TORCH_ENTRY.test(name) || h.includes('data.pkl') ? 'PyTorch (zip archive)' : null;
};

/** torch.save before 1.6: a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c first. */
const TORCH_LEGACY = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

const pickle: Probe = (h) => {
  if (h.length < 2 || h[0] !== 0x80 || h[1]! < 2 || h[1]! > 5) return null;
  return h.subarray(0, TORCH_LEGACY.length).equals(TORCH_LEGACY) ? 'PyTorch (legacy pickle)' : 'pickle';
};

const compressed: Probe = (h) => {
  if (h.length < 4) return null;
  if (h[0] === 0x78 && (h[1] === 0x01 || h[1] === 0x5e || h[1] === 0x9c || h[1] === 0xda)) return 'zlib-compressed pickle (joblib)';
  if (h[0] === 0x1f && h[1] === 0x8b) return 'gzip-compressed pickle (joblib)';
  if (h.toString('latin1', 0, 3) === 'BZh') return 'bz2-compressed pickle (joblib)';
  if (h[0] === 0xfd && h.toString('latin1', 1, 6) === '7zXZ\0') return 'xz-compressed pickle (joblib)';
  if (h.readUInt32LE(0) === 0x184d2204) return 'lz4-compressed pickle (joblib)';
  if (h.toString('latin1', 0, 2) === 'ZF') return 'zlib-compressed pickle (joblib)';
  return null;
};

const GGML_MAGICS: Record<string, string> = { GGUF: 'GGUF', lmgg: 'GGML', fmgg: 'GGMF', tjgg: 'GGJT', algg: 'GGLA', nsgg: 'GGSN' };

const gguf: Probe = (h) => (h.length >= 4 ? (GGML_MAGICS[h.toString('latin1', 0, 4)] ?? null) : null);

/** A protobuf varint at `at`: its value (up to 2^35) and end, or null. */
function varint(h: Buffer, at: number): { value: number; end: number } | null {
  let v = 0;
  let mul = 1;
  for (let i = at; i < Math.min(h.length, at + 5); i++) {
    v += (h[i]! & 0x7f) * mul;
    mul *= 128;
    if ((h[i]! & 0x80) === 0) return { value: v, end: i + 1 };
  }
  return null;
}

/** ModelProto fields that may follow ir_version, with their wire types. */
const ONNX_FIELDS = new Map<number, number>([
  [2, 2], [3, 2], [4, 2], [5, 0], [6, 2], [7, 2], [8, 2], [14, 2], [20, 2], [25, 2],
]);

const onnx: Probe = (h) => {
  if (h.length < 4 || h[0] !== 0x08) return null;
  const ir = varint(h, 1);
  if (!ir || ir.value < 1 || ir.value > 64) return null;
  const tag = varint(h, ir.end);
  if (!tag) return null;
  const field = Math.floor(tag.value / 8);
  return ONNX_FIELDS.get(field) === tag.value % 8 ? 'ONNX' : null;
};

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

const hdf5: Probe = (h) => {
  for (const at of [0, 512]) {
    if (h.length >= at + 8 && h.subarray(at, at + 8).equals(HDF5_SIGNATURE)) return 'HDF5';
  }
  return null;
};

const kerasZip: Probe = (h) => {
  const name = firstZipEntry(h);
  if (name === null) return null;
  return /^(?:metadata\.json|config\.json|model\.weights\.h5|assets\/)/.test(name) || h.includes('model.weights.h5') ? 'Keras (zip archive)' : null;
};

const tflite: Probe = (h) => (h.length >= 8 && h.toString('latin1', 4, 8) === 'TFL3' ? 'TensorFlow Lite' : null);

/** By extension (lowercase, without the dot): the formats a file of that name may hold. */
const BY_EXTENSION: Record<string, Probe[]> = {
  safetensors: [safetensors],
  pt: [torchZip, pickle],
  pth: [torchZip, pickle],
  ckpt: [torchZip, pickle, safetensors],
  bin: [torchZip, pickle, gguf, safetensors],
  pkl: [pickle, torchZip],
  pickle: [pickle],
  joblib: [pickle, compressed],
  gguf: [gguf],
  ggml: [gguf],
  onnx: [onnx],
  h5: [hdf5],
  hdf5: [hdf5],
  keras: [kerasZip, hdf5],
  tflite: [tflite],
};

/** The weights extensions, for documentation and messages. */
export const WEIGHTS_EXTENSIONS: readonly string[] = Object.keys(BY_EXTENSION).map((e) => `.${e}`);

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** Whether the name has a weights extension (the content is not looked at). */
export function hasWeightsExtension(path: string): boolean {
  return Object.hasOwn(BY_EXTENSION, extensionOf(path));
}

/**
 * Whether a file is model weights: its name has a weights extension and its first bytes are
 * that format's. `head` is the start of the file (at least 1 KiB when the file is that long).
 */
export function modelWeights(path: string, head: Buffer): WeightsKind | null {
  const ext = extensionOf(path);
  const probes = Object.hasOwn(BY_EXTENSION, ext) ? BY_EXTENSION[ext] : undefined;
  if (!probes) return null;
  for (const p of probes) {
    const format = p(head);
    if (format) return { format };
  }
  return null;
}
