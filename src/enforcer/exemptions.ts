import type { ContainerModel } from './container-model.js';

/** A trusted exemption: by label (set by menage), image digest or container id. */
export type Exemption = (c: ContainerModel) => boolean;

/** A whitelist entry: name and/or image regex, for every rule or one rule. */
export interface WhitelistEntry {
  readonly rule?: string;
  readonly matches: (c: ContainerModel) => boolean;
}

type Report = (pointer: string, message: string) => void;

/** JSON schema of one exemption. */
export const exemptionSchema = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['label'], properties: { label: { type: 'string', minLength: 1 }, value: { type: 'string' } } },
    { type: 'object', additionalProperties: false, required: ['imageDigest'], properties: { imageDigest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } } },
    { type: 'object', additionalProperties: false, required: ['containerId'], properties: { containerId: { type: 'string', pattern: '^[0-9a-f]{12,64}$' } } },
  ],
};

/** JSON schema of one whitelist entry: "NAME_REGEX", "NAME_REGEX|RULE" or an object. */
export const whitelistSchema = {
  oneOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['name'] }, { required: ['image'] }],
      properties: { name: { type: 'string' }, image: { type: 'string' }, rule: { type: 'string' } },
    },
  ],
};

/** Compiles (schema-valid) exemptions. */
export function compileExemptions(raw: unknown[], _ptr: string, _report: Report): Exemption[] {
  return raw.map((e) => {
    const x = e as { label?: string; value?: string; imageDigest?: string; containerId?: string };
    if (x.label !== undefined) {
      const { label, value } = x;
      return (c) => Object.hasOwn(c.labels, label) && (value === undefined || c.labels[label] === value);
    }
    if (x.imageDigest !== undefined) {
      const digest = x.imageDigest;
      return (c) => c.imageId === digest || c.image.endsWith(`@${digest}`);
    }
    const id = x.containerId as string;
    return (c) => c.id !== '' && c.id.startsWith(id);
  });
}

/** Compiles whitelist entries; a rule named in an entry must exist. */
export function compileWhitelist(raw: unknown[], ptr: string, ruleNames: string[], report: Report): WhitelistEntry[] {
  return raw.map((e, i) => {
    const here = `${ptr}/${i}`;
    const x = typeof e === 'string' ? splitNameRule(e) : (e as { name?: string; image?: string; rule?: string });
    if (x.rule !== undefined && !ruleNames.includes(x.rule)) report(here, `whitelist names unknown rule "${x.rule}"`);
    const name = regex(x.name, here, report);
    const image = regex(x.image, here, report);
    const matches = (c: ContainerModel) => (!name || name.test(c.name)) && (!image || image.test(c.image));
    return x.rule === undefined ? { matches } : { rule: x.rule, matches };
  });
}

/** "NAME_REGEX|RULE": the part after the last "|" is the rule (use the object form for alternations). */
function splitNameRule(s: string): { name: string; image?: string; rule?: string } {
  const bar = s.lastIndexOf('|');
  return bar < 0 ? { name: s } : { name: s.slice(0, bar), rule: s.slice(bar + 1) };
}

function regex(source: string | undefined, ptr: string, report: Report): RegExp | undefined {
  if (source === undefined) return undefined;
  try {
    return new RegExp(source, 'u');
  } catch (err) {
    report(ptr, `invalid regex: ${(err as Error).message}`);
    return undefined;
  }
}
