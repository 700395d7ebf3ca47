// Which files are worth scanning for secrets, and how their bytes become text.

/** Extensions of formats that hold no hand-written text (archives, media, model weights). */
const BINARY_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'bmp', 'ico', 'webp', 'tif', 'tiff', 'psd', 'pdf', 'zip', 'gz', 'tgz', 'bz2', 'xz', 'zst',
  '7z', 'rar', 'jar', 'war', 'class', 'so', 'dylib', 'dll', 'exe', 'o', 'a', 'lib', 'bin', 'dat', 'wasm', 'pyc', 'safetensors',
  'pt', 'pth', 'ckpt', 'onnx', 'pkl', 'joblib', 'h5', 'keras', 'gguf', 'npy', 'npz', 'parquet', 'arrow', 'feather', 'tflite',
  'pb', 'mp3', 'mp4', 'wav', 'ogg', 'flac', 'mov', 'avi', 'mkv', 'webm', 'woff', 'woff2', 'ttf', 'otf', 'eot', 'sqlite',
  'db', 'age', 'iso', 'dmg', 'deb', 'rpm',
]);

export function binaryByName(path: string): boolean {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return false;
  return BINARY_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

/** git's rule: a NUL byte in the first 8000 bytes makes a file binary. */
export function binaryByContent(data: Buffer): boolean {
  return data.subarray(0, 8000).indexOf(0) >= 0;
}

/**
 * Bytes as text. Invalid UTF-8 sequences become U+FFFD (secrets are ASCII, so nothing is
 * lost around them); a UTF-8 byte-order mark is dropped.
 */
export function decode(data: Buffer): string {
  const bom = data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf;
  return data.toString('utf8', bom ? 3 : 0);
}

export const DEFAULT_MAX_FILE_BYTES = 25 * 1024 * 1024;
