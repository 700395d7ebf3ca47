// Model weights by content and by name: the pre-commit check refuses plaintext weights even in
// a repository without a policy. Three ways a file counts (README.md's scan section has the table):
// - a STRONG signature, whatever the name: a safetensors header (length, then a JSON object of
//   tensors), GGUF (with its version), HDF5's 8-byte signature, a PyTorch zip holding
//   `data.pkl`, a TensorFlow Lite FlatBuffer (`TFL3`);
// - an unambiguous weights extension (.safetensors, .gguf, .ggml, .ckpt, .pt, .pth, .onnx,
//   .tflite, .keras, .h5, .hdf5, and TensorFlow checkpoint shards `.data-00000-of-00001`): its
//   format's content, or any binary content (an empty or a text file of that name passes);
// - a WEAK signature (a pickle, a zlib/gzip/bz2/xz/lz4 stream, a protobuf message, other
//   PyTorch zips, the GGML family) only under an extension that holds weights among other
//   things: .bin, .pkl, .pickle, .joblib, .model, .pb (a `.bin` of firmware or a PNG named
//   `.model` passes).
// Formats, from their specifications:
// - safetensors: an 8-byte little-endian header length, then a JSON object (`{"`).
// - PyTorch: a zip archive whose entries sit under one folder (`archive/data.pkl`, `.../version`,
//   `.../byteorder`; TorchScript adds `constants.pkl` and `code/`), or, before torch 1.6, a pickle
//   (protocol 2 or later: 0x80 then the protocol number). Pickles and joblib dumps (compressed
//   with zlib, gzip, bz2, xz, lzma or lz4) likewise.
// - GGUF (`GGUF`, then a version) and its predecessors GGML/GGMF/GGJT/GGLA/GGSN, little-endian.
// - ONNX: a protobuf ModelProto, which begins with ir_version (field 1, a small varint) and
//   goes on with another field of the message.
// - HDF5 (Keras .h5, .hdf5): the 8-byte signature at offset 0 or 512 (a user block may come
//   first; NetCDF-4, MATLAB v7.3 and other HDF5-based data files keep their own extensions and
//   are not weights by the signature alone); a Keras 3 `.keras` file is a zip holding
//   `config.json`/`model.weights.h5`.
// - TensorFlow Lite: `TFL3` at offset 4 (a FlatBuffer file identifier).
// Only the first KiB is read (the hook holds no more of a large blob).

export interface WeightsKind {
  /** What the content is, for messages: "safetensors", "PyTorch (zip)". */
  format: string;
  /** Why it counts: a strong signature alone, the name and its format's content, or the name and binary content. */
  by: 'signature' | 'name-and-content' | 'name-and-binary';
}

type Probe = (head: Buffer) => string | null;

const safetensors: Probe = (h) => {
  if (h.length < 10) return null;
  const n = h.readBigUInt64LE(0);
  if (n < 2n || n > 100_000_000n) return null;
  return h[8] === 0x7b && (h.length < 10 || h[9] === 0x22 || h[9] === 0x20 || h[9] === 0x7d) ? 'safetensors' : null;
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

/** GGUF with a version it has had (1 to 3, and room for a few more): a strong signature. */
const ggufStrong: Probe = (h) => (h.length >= 8 && h.toString('latin1', 0, 4) === 'GGUF' && h.readUInt32LE(4) >= 1 && h.readUInt32LE(4) <= 15 ? 'GGUF' : null);

/** A PyTorch zip archive holding its pickle (`.../data.pkl`): a strong signature. */
const torchZipStrong: Probe = (h) => {
  const name = firstZipEntry(h);
  return name !== null && (/(?:^|\/)data\.pkl$/.test(name) || h.includes('/data.pkl')) ? 'PyTorch (zip archive)' : null;
};

/** Strong signatures: weights whatever the file is called. */
const STRONG: Probe[] = [safetensors, ggufStrong, hdf5, torchZipStrong, tflite];

/** Other formats' signatures: never a protobuf or any weak signature. */
const OTHER_FORMATS = [Buffer.from('\x89PNG', 'latin1'), Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('GIF8'), Buffer.from('%PDF'), Buffer.from('\x7fELF', 'latin1'), Buffer.from('MZ'), Buffer.from('RIFF'), Buffer.from('OggS'), Buffer.from('fLaC'), Buffer.from('ID3')];

/**
 * A protobuf message (TensorFlow's `saved_model.pb`, a SentencePiece `.model`): from the first
 * byte, fields with a one-byte tag of a small field number and a valid wire type, each read
 * through, until the head ends inside one or four are read.
 */
const protobuf: Probe = (h) => {
  if (h.length < 2 || h[0]! >= 0x80 || OTHER_FORMATS.some((m) => h.subarray(0, m.length).equals(m))) return null;
  let at = 0;
  for (let fields = 0; fields < 4; fields++) {
    if (at >= h.length) return fields > 0 ? 'protobuf' : null;
    const tag = varint(h, at);
    if (!tag || tag.value < 8) return null;
    const wire = tag.value % 8;
    at = tag.end;
    if (wire === 0) {
      const v = varint(h, at);
      if (!v) return null;
      at = v.end;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const n = varint(h, at);
      if (!n || n.value > 2 ** 31) return null;
      at = n.end + n.value;
    } else return null;
  }
  return 'protobuf';
};

/**
 * Not text: a NUL byte, control characters other than layout ones, or bytes that are not
 * UTF-8 (a head cut inside a character is allowed its last incomplete one).
 */
export function binaryHead(h: Buffer): boolean {
  if (h.length === 0) return false;
  let control = 0;
  for (const b of h) {
    if (b === 0) return true;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) || b === 0x7f) control++;
  }
  if (control > h.length / 100) return true;
  let end = h.length;
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = h[end - k]!;
    if (b < 0x80) break;
    if (b >= 0xc0) {
      end -= k;
      break;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(h.subarray(0, end));
    return false;
  } catch {
    return true;
  }
}

/** Unambiguous weights extensions (lowercase, without the dot), with the formats they hold. */
const WEIGHTS_ONLY: Record<string, Probe[]> = {
  safetensors: [safetensors],
  pt: [torchZip, pickle],
  pth: [torchZip, pickle],
  ckpt: [torchZip, pickle, safetensors],
  gguf: [gguf],
  ggml: [gguf],
  onnx: [onnx],
  h5: [hdf5],
  hdf5: [hdf5],
  keras: [kerasZip, hdf5],
  tflite: [tflite],
};

/** Extensions that hold weights among other things: a weak signature counts under them. */
const SHARED: Record<string, Probe[]> = {
  bin: [torchZip, pickle, gguf],
  pkl: [pickle, torchZip, compressed],
  pickle: [pickle, compressed],
  joblib: [pickle, compressed],
  model: [pickle, compressed, torchZip, protobuf],
  pb: [protobuf],
};

/** Data formats built on HDF5 (NetCDF-4, HDF-EOS5, MATLAB v7.3, AnnData, Loom): not weights by the signature alone. */
const HDF5_DATA = new Set(['nc', 'nc4', 'he5', 'mat', 'h5ad', 'loom']);

/** TensorFlow checkpoint shards: `model.ckpt-1000.data-00000-of-00001`. */
const TF_SHARD = /\.data-\d{5}-of-\d{5}$/;

/** The weights extensions, for documentation and messages. */
export const WEIGHTS_EXTENSIONS: readonly string[] = [...Object.keys(WEIGHTS_ONLY), ...Object.keys(SHARED)].map((e) => `.${e}`);

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** Whether the name has a weights extension (the content is not looked at). */
export function hasWeightsExtension(path: string): boolean {
  const ext = extensionOf(path);
  return Object.hasOwn(WEIGHTS_ONLY, ext) || Object.hasOwn(SHARED, ext) || TF_SHARD.test(path.toLowerCase());
}

function first(probes: readonly Probe[], head: Buffer): string | null {
  for (const p of probes) {
    const format = p(head);
    if (format) return format;
  }
  return null;
}

/**
 * Whether a file is model weights (see the top of this file): a strong signature, an
 * unambiguous weights name with its format's or binary content, or a weak signature under a
 * shared weights name. `head` is the start of the file (at least 1 KiB when the file is that long).
 */
export function modelWeights(path: string, head: Buffer): WeightsKind | null {
  const ext = extensionOf(path);
  if (Object.hasOwn(WEIGHTS_ONLY, ext) || TF_SHARD.test(path.toLowerCase())) {
    const format = first(WEIGHTS_ONLY[ext] ?? [], head) ?? first(STRONG, head);
    if (format) return { format, by: 'name-and-content' };
    if (binaryHead(head)) return { format: TF_SHARD.test(path.toLowerCase()) ? 'TensorFlow checkpoint shard' : `binary .${ext}`, by: 'name-and-binary' };
    return null;
  }
  const strong = first(STRONG, head);
  if (strong && !(strong === 'HDF5' && HDF5_DATA.has(ext))) return { format: strong, by: 'signature' };
  if (Object.hasOwn(SHARED, ext)) {
    const format = first(SHARED[ext]!, head);
    // A weak signature in text (a protobuf's bytes can be printable) is no weights file.
    if (format && (format !== 'protobuf' || binaryHead(head))) return { format, by: 'name-and-content' };
  }
  return null;
}
