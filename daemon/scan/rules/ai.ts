// AI and ML services: model APIs, model hubs, experiment trackers. Keyward's own patterns,
// from the services' documented token formats.

import { charClasses, shannon } from '../entropy';
import type { Rule } from '../types';
import { hasWord, patternRule, wordContains, type AssignmentRule } from './helpers';

export const openaiApiKey = patternRule(
  { id: 'openai-api-key', description: 'OpenAI API key', severity: 'critical', tags: ['ai', 'openai'] },
  /\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])/g,
  { minEntropy: 3.5 },
);

export const anthropicApiKey = patternRule(
  { id: 'anthropic-api-key', description: 'Anthropic API key', severity: 'critical', tags: ['ai', 'anthropic'] },
  /\bsk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{80,120}(?![A-Za-z0-9_-])/g,
  { minEntropy: 3.5 },
);

export const huggingfaceToken = patternRule(
  { id: 'huggingface-token', description: 'Hugging Face access token', severity: 'high', tags: ['ai', 'huggingface'] },
  /\b(?:hf|api_org)_[A-Za-z]{34}(?![A-Za-z0-9_])/g,
  {
    keywords: ['hf_', 'api_org_'],
    verify: (s) => {
      const body = s.slice(s.lastIndexOf('_') + 1);
      const c = charClasses(body);
      // Random letters of both cases; of one case only (seen in examples), a higher entropy.
      return shannon(body) >= (c.upper > 0 && c.lower > 0 ? 3.5 : 3.9);
    },
  },
);

export const replicateApiToken = patternRule(
  { id: 'replicate-api-token', description: 'Replicate API token', severity: 'high', tags: ['ai', 'replicate'] },
  /\br8_[A-Za-z0-9]{37}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const groqApiKey = patternRule(
  { id: 'groq-api-key', description: 'Groq API key', severity: 'high', tags: ['ai', 'groq'] },
  /\bgsk_[A-Za-z0-9]{52}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const langsmithApiKey = patternRule(
  { id: 'langsmith-api-key', description: 'LangSmith API key', severity: 'high', tags: ['ai', 'langchain'] },
  /\blsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}(?![0-9A-Za-z_])/g,
  { minEntropy: 3 },
);

const cohereInfo = { id: 'cohere-api-key', description: 'Cohere API key', severity: 'high', tags: ['ai', 'cohere'] } as const;

/** Cohere keys have no prefix: 40 characters named after Cohere (`COHERE_API_KEY`, `CO_API_KEY`). */
export const cohereApiKey: AssignmentRule = {
  ...cohereInfo,
  priority: 60,
  judge(a) {
    const named = wordContains(a.words, 'cohere') || (a.words[0] === 'co' && hasWord(a.words, 'api') && hasWord(a.words, 'key'));
    if (!named || !/^[A-Za-z0-9]{40}$/.test(a.value)) return false;
    const c = charClasses(a.value);
    return c.lower > 0 && c.upper > 0 && shannon(a.value) >= 3.8;
  },
};

const wandbInfo = { id: 'wandb-api-key', description: 'Weights & Biases API key', severity: 'high', tags: ['ai', 'wandb'] } as const;
const WANDB_KEY = /^(?:local-)?[0-9a-f]{40}$/;

/** `WANDB_API_KEY=...`, `wandb.login(key="...")`. */
export const wandbApiKey: AssignmentRule = {
  ...wandbInfo,
  priority: 60,
  judge(a) {
    return wordContains(a.words, 'wandb') && WANDB_KEY.test(a.value) && shannon(a.value) >= 3;
  },
};

/** `wandb login` writes the key to ~/.netrc. */
export const wandbNetrc = patternRule(
  wandbInfo,
  /\bmachine[ \t]{1,8}api\.wandb\.ai\s{1,16}login[ \t]{1,8}\S{1,64}\s{1,16}password[ \t]{1,8}((?:local-)?[0-9a-f]{40})(?![0-9A-Za-z])/g,
  { group: 1, priority: 60, minEntropy: 3 },
);

/** `wandb.login(key="...")`, the documented way to log in from code. */
export const wandbLogin = patternRule(
  wandbInfo,
  /\bwandb\.login\([^)\n]{0,120}?\bkey[ \t]{0,4}=[ \t]{0,4}["']((?:local-)?[0-9a-f]{40})["']/g,
  { group: 1, priority: 60, minEntropy: 3 },
);

const kaggleInfo = { id: 'kaggle-api-key', description: 'Kaggle API key', severity: 'high', tags: ['ai', 'kaggle'] } as const;

/** `KAGGLE_KEY=...` */
export const kaggleKeyByName: AssignmentRule = {
  ...kaggleInfo,
  priority: 60,
  judge(a) {
    return wordContains(a.words, 'kaggle') && hasWord(a.words, 'key') && /^[0-9a-f]{32}$/.test(a.value) && shannon(a.value) >= 3;
  },
};

/** kaggle.json: `{"username":"...","key":"<32 hex>"}` */
export const kaggleJson = patternRule(
  kaggleInfo,
  /"username"[ \t]{0,4}:[ \t]{0,4}"[^"\n]{1,64}"[ \t]{0,4},\s{0,8}"key"[ \t]{0,4}:[ \t]{0,4}"([0-9a-f]{32})"/g,
  { group: 1, priority: 60, minEntropy: 3, strict: false },
);

export const aiRules: Rule[] = [openaiApiKey, anthropicApiKey, huggingfaceToken, replicateApiToken, groqApiKey, langsmithApiKey, wandbNetrc, wandbLogin, kaggleJson];
export const aiAssignmentRules: AssignmentRule[] = [cohereApiKey, wandbApiKey, kaggleKeyByName];
