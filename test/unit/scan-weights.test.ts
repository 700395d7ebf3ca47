// Model weights by extension and content (daemon/scan/weights.ts): real files of each format
// (test/fixtures/secrets/weights, made by the formats' own libraries) are recognised; the
// same bytes under another name, and other content under a weights name, are not.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { binaryHead, hasWeightsExtension, modelWeights } from '../../daemon/scan/weights';

const DIR = path.join(__dirname, '../fixtures/secrets/weights');
const head = (f: string) => readFileSync(path.join(DIR, f)).subarray(0, 1024);

/** A TensorFlow Lite file's start, per its schema: the root table's offset, then the identifier `TFL3`. */
const tfliteHead = Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.from([0, 0, 0x12, 0, 0x1c, 0, 0x04, 0, 0x08, 0, 0x0c, 0, 0x10, 0, 0x14, 0])]);

/**
 * The start of a SavedModel's saved_model.pb (a SavedModel message): field 1 (schema version,
 * varint 1), then field 2 (a MetaGraphDef, length-delimited) running past the head.
 */
const savedModel = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0xb4, 0x9c, 0x01, 0x0a, 0x8b, 0x01, 0x0a, 0x05]), Buffer.from('serve'), Buffer.from([0x12, 0x08, 0x00, 0x01, 0x02, 0x03])]);

describe('model weights by extension and content', () => {
  const expected: Record<string, string> = {
    'tiny.safetensors': 'safetensors',
    'tiny.onnx': 'ONNX',
    'tiny.gguf': 'GGUF',
    'tiny.h5': 'HDF5',
    'tiny.pkl': 'pickle',
    'legacy.pt': 'PyTorch (legacy pickle)',
    'tiny.pt': 'PyTorch (zip archive)',
    'tiny.keras': 'Keras (zip archive)',
  };

  it('recognises a real file of every format', () => {
    const files = readdirSync(DIR).filter((f) => f !== 'README.md');
    assert.deepEqual(files.sort(), Object.keys(expected).sort());
    for (const f of files) assert.equal(modelWeights(f, head(f))?.format, expected[f], f);
  });

  it('by the formats other names use: .pth, .ckpt, .bin, .hdf5, .joblib, .ggml', () => {
    assert.equal(modelWeights('ckpt/epoch=3.ckpt', head('tiny.pt'))?.format, 'PyTorch (zip archive)');
    assert.equal(modelWeights('model.pth', head('legacy.pt'))?.format, 'PyTorch (legacy pickle)');
    assert.equal(modelWeights('pytorch_model.bin', head('tiny.pt'))?.format, 'PyTorch (zip archive)');
    assert.equal(modelWeights('ggml-model-q4_0.bin', head('tiny.gguf'))?.format, 'GGUF');
    assert.equal(modelWeights('weights.hdf5', head('tiny.h5'))?.format, 'HDF5');
    assert.equal(modelWeights('clf.joblib', head('tiny.pkl'))?.format, 'pickle');
    assert.equal(modelWeights('clf.joblib', Buffer.from([0x78, 0x9c, 1, 2, 3]))?.format, 'zlib-compressed pickle (joblib)');
    assert.equal(modelWeights('old.ggml', Buffer.from('tjgg\x01\0\0\0', 'latin1'))?.format, 'GGJT');
    assert.equal(modelWeights('MODEL.SAFETENSORS', head('tiny.safetensors'))?.format, 'safetensors');
  });

  it('a strong signature counts whatever the name: safetensors, GGUF, HDF5, a torch zip with data.pkl, TFLite', () => {
    assert.deepEqual(modelWeights('tiny.txt', head('tiny.safetensors')), { format: 'safetensors', by: 'signature' });
    assert.deepEqual(modelWeights('weights/layer0', head('tiny.gguf')), { format: 'GGUF', by: 'signature' });
    assert.deepEqual(modelWeights('data/model.dat', head('tiny.h5')), { format: 'HDF5', by: 'signature' });
    assert.deepEqual(modelWeights('archive.zip', head('tiny.pt')), { format: 'PyTorch (zip archive)', by: 'signature' });
    assert.deepEqual(modelWeights('model.lite', tfliteHead), { format: 'TensorFlow Lite', by: 'signature' });
    assert.deepEqual(modelWeights('model.tflite', tfliteHead), { format: 'TensorFlow Lite', by: 'name-and-content' });
    // A user block of 512 bytes before the HDF5 signature.
    assert.equal(modelWeights('export.bin', Buffer.concat([Buffer.alloc(512, 0x20), head('tiny.h5')]))?.format, 'HDF5');
  });

  it('an unambiguous weights name with binary content counts, an empty or text file of that name does not', () => {
    const random = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 97 + 13) % 251));
    for (const name of ['model.pt', 'best.ckpt', 'w.safetensors', 'm.onnx', 'q.gguf', 'x.h5', 'x.hdf5', 'm.keras', 'm.tflite', 'model.ckpt-1000.data-00000-of-00001']) {
      assert.equal(modelWeights(name, random)?.by, 'name-and-binary', name);
      assert.equal(modelWeights(name, Buffer.alloc(0)), null, name);
      assert.equal(modelWeights(name, Buffer.from('version https://example.test/spec\nplain text, café\n')), null, name);
    }
    // Portuguese translations named .pt; a head cut inside a UTF-8 character is still text.
    assert.equal(modelWeights('pt/messages.pt', Buffer.from('msgid "Hello"\nmsgstr "Olá"\n')), null);
    assert.equal(modelWeights('notes.pt', Buffer.from('ação ação ação').subarray(0, 5)), null);
    assert.equal(modelWeights('data.h5', Buffer.from('just text, not HDF5\n')), null);
    // A safetensors header whose length cannot be: not safetensors, but binary under its name.
    assert.equal(modelWeights('huge.safetensors', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from('{"')]))?.by, 'name-and-binary');
    assert.equal(binaryHead(Buffer.from('plain ASCII\ttext\r\n')), false);
    assert.equal(binaryHead(Buffer.from([0x41, 0x00, 0x42])), true);
  });

  it('a weak signature counts only under a shared weights name (.bin, .pkl, .joblib, .model, .pb)', () => {
    const zlib = Buffer.from([0x78, 0x9c, 1, 2, 3, 0, 0xff]);
    assert.equal(modelWeights('clf.joblib', zlib)?.format, 'zlib-compressed pickle (joblib)');
    assert.equal(modelWeights('data.gz.part', zlib), null);
    assert.equal(modelWeights('spm.model', head('tiny.pkl'))?.format, 'pickle');
    assert.equal(modelWeights('cache.dat', head('tiny.pkl')), null);
    // TensorFlow's saved_model.pb and a SentencePiece .model are protobuf messages.
    assert.equal(modelWeights('saved_model/saved_model.pb', savedModel)?.format, 'protobuf');
    assert.equal(modelWeights('tokenizer.model', savedModel)?.format, 'protobuf');
    assert.equal(modelWeights('graph.proto.bin', savedModel), null);
    assert.equal(modelWeights('legacy.bin', head('legacy.pt'))?.format, 'PyTorch (legacy pickle)');
  });

  it('must pass: a .bin of firmware, a PNG named .model, a text .pb, another zip, another protobuf under .bin', () => {
    assert.equal(modelWeights('firmware.bin', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(64)])), null);
    assert.equal(modelWeights('boot.bin', Buffer.from([0xea, 0x00, 0x00, 0x00, 0x14, 0xf0, 0x9f, 0xe5])), null);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), Buffer.from('IHDR'), Buffer.alloc(32)]);
    assert.equal(modelWeights('logo.model', png), null);
    assert.equal(modelWeights('schema.pb', Buffer.from('hello: "world"\nsize: 3\n')), null);
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(22), Buffer.from([9, 0, 0, 0]), Buffer.from('README.md')]);
    assert.equal(modelWeights('fw.bin', zip), null);
    assert.equal(modelWeights('bundle.zip', zip), null);
    assert.equal(modelWeights('fw.bin', savedModel), null);
    // HDF5-based data formats under their own names.
    assert.equal(modelWeights('climate/t2m.nc', head('tiny.h5')), null);
    assert.equal(modelWeights('results.mat', Buffer.concat([Buffer.alloc(512, 0x20), head('tiny.h5')])), null);
  });

  it('knows the weights extensions by name alone (for Git LFS pointers)', () => {
    assert.ok(hasWeightsExtension('m/model.safetensors'));
    assert.ok(hasWeightsExtension('a.GGUF'));
    assert.ok(!hasWeightsExtension('a.py'));
    assert.ok(!hasWeightsExtension('constructor'));
  });
});
