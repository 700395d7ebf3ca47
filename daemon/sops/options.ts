// Which values a sops file encrypts and how its MAC is computed: the options sops 3.13 keeps
// in the metadata and takes from `.sops.yaml` creation rules or the command line. The six
// selectors (two suffixes, two key regexes, two comment regexes) are mutually exclusive, as
// in sops.
export interface EncryptRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  unencryptedCommentRegex?: string;
  encryptedCommentRegex?: string;
  /** The MAC covers only the encrypted values (sops `mac_only_encrypted`). */
  macOnlyEncrypted?: boolean;
}

/** sops' default when no selector is given. */
export const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';
