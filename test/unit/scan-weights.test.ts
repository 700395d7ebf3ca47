// Model weights by extension and content (daemon/scan/weights.ts): real files of each format
// (test/fixtures/secrets/weights, made by the formats' own libraries) are recognised; the
// same bytes under another name, and other content under a weights name, are not.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { hasWeightsExtension, modelWeights } from '../../daemon/scan/weights';

const DIR = path.join(__dirname, '../fixtures/secrets/weights');
const head = (f: string) => readFileSync(path.join(DIR, f)).subarray(0, 1024);

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

  it('needs both: weights bytes under another name, or other bytes under a weights name, are not weights', () => {
    assert.equal(modelWeights('tiny.txt', head('tiny.safetensors')), null);
    assert.equal(modelWeights('archive.zip', head('tiny.pt')), null);
    assert.equal(modelWeights('data.h5', Buffer.from('just text, not HDF5\n')), null);
    assert.equal(modelWeights('pt/messages.pt', Buffer.from('msgid "Hello"\nmsgstr "Olá"\n')), null);
    assert.equal(modelWeights('firmware.bin', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])), null);
    // A zip that is not a torch archive, under .bin; an ONNX name on a protobuf of another message.
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(22), Buffer.from([9, 0, 0, 0]), Buffer.from('README.md')]);
    assert.equal(modelWeights('fw.bin', zip), null);
    assert.equal(modelWeights('x.onnx', Buffer.from([0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f])), null);
    assert.equal(modelWeights('empty.safetensors', Buffer.alloc(0)), null);
    assert.equal(modelWeights('huge.safetensors', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from('{"')])), null);
  });

  it('knows the weights extensions by name alone (for Git LFS pointers)', () => {
    assert.ok(hasWeightsExtension('m/model.safetensors'));
    assert.ok(hasWeightsExtension('a.GGUF'));
    assert.ok(!hasWeightsExtension('a.py'));
    assert.ok(!hasWeightsExtension('constructor'));
  });
});
