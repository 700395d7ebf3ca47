// The sops tree, modelled as sops 3.13 models it (sops.go: TreeItem, TreeBranch, Comment), so
// that encryption, the MAC and the stores walk the same structure in the same order as sops.
//
// - A document is a Branch: an ordered list of items. A key is a string, or a Comment (an item
//   whose key is a Comment stands for a comment line in the branch, and its value is null).
// - A value is a scalar leaf, a nested Branch, a list (a plain array whose elements are values
//   or Comments), or null.
// - Go distinguishes int and float64 where JavaScript has one number type: the wrappers Int and
//   Float keep the distinction (it decides `type:int` vs `type:float` and how the value prints).
// - Encrypted files hold every encrypted leaf (and comment) as a string `ENC[AES256_GCM,...]`.
// A file is a list of branches (YAML may have several documents; other formats have one).

/** A comment line (or an inline comment, `# ...` after a value, in YAML). */
export class Comment {
  constructor(
    readonly value: string,
    readonly inline = false,
  ) {}
}

/** A Go `int` (64-bit): kept as a bigint so that large values round-trip exactly. */
export class Int {
  constructor(readonly value: bigint) {}
  toString(): string {
    return this.value.toString();
  }
}

/** A Go `float64`. */
export class Float {
  constructor(readonly value: number) {}
}

/** A Go `time.Time` (YAML timestamps): kept as the RFC 3339 text sops marshals. */
export class Time {
  constructor(readonly text: string) {}
}

export type Leaf = string | boolean | Int | Float | Time | null;

/** An ordered mapping. */
export class Branch {
  constructor(readonly items: Item[] = []) {}
}

export type Value = Leaf | Branch | Value[] | Comment;

export interface Item {
  key: string | Comment;
  value: Value;
}

/** A whole file: one branch per document. */
export type Branches = Branch[];

export function isLeaf(v: Value): v is Leaf {
  return !(v instanceof Branch) && !Array.isArray(v) && !(v instanceof Comment);
}

/** The value of `key` in a branch (first match), or undefined. */
export function getItem(branch: Branch, key: string): Item | undefined {
  return branch.items.find((i) => i.key === key);
}
