/**
 * Labels: `key=value` pairs on computers (`site=osaka`, `ring=canary`) that jobs and lists select by. Keys are
 * short identifiers (no `=`, so `key=value` always splits at the first `=`); values are printable text.
 * Agents name theirs with `--label key=value`, admins set them through the api, lists filter with
 * `?label=key=value`, and the CLI removes one with `key-`.
 */
import { z } from 'zod';

/** The most labels one computer carries: enough to describe it, few enough to index. */
export const MAX_LABELS = 50;

const controlCharacter = /\p{Cc}/u;

export const labelKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, {
    error: 'a label key is 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit',
  });

export const labelValueSchema = z
  .string()
  .max(200)
  .refine((value) => !controlCharacter.test(value), { error: 'a label value must not contain control characters' });

/** A computer's labels. */
export const labelsSchema = z
  .record(labelKeySchema, labelValueSchema)
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, { error: `at most ${MAX_LABELS} labels` });

export type Labels = z.infer<typeof labelsSchema>;

/** `key=value` split at its first `=`; undefined when there is no `=` or nothing before it. */
export function splitLabel(text: string): [string, string] | undefined {
  const split = text.indexOf('=');
  return split > 0 ? [text.slice(0, split), text.slice(split + 1)] : undefined;
}

/** `key=value` as one label; the value may be empty, the `=` may not be missing. */
export const labelPairSchema = z
  .string()
  .transform((text, context): [string, string] => {
    const pair = splitLabel(text);
    if (!pair) {
      context.addIssue({ code: 'custom', message: `"${text}" is not key=value` });
      return z.NEVER;
    }
    return pair;
  })
  .pipe(z.tuple([labelKeySchema, labelValueSchema]));
