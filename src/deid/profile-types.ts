/** Actions of PS3.15 Table E.1-1 (E.3.1): the basic column may combine them, e.g. "X/Z/D". */
export type BasicAction = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'X/Z' | 'X/D' | 'X/Z/D' | 'Z/D' | 'X/Z/U*';
export type OptionAction = 'K' | 'C';

/** The twelve options of PS3.15 E.3, by the names the CLI and configuration use. */
export const OPTIONS = [
  'clean-pixel-data',
  'clean-recognizable-visual-features',
  'clean-graphics',
  'clean-structured-content',
  'clean-descriptors',
  'retain-longitudinal-full-dates',
  'retain-longitudinal-modified-dates',
  'retain-patient-characteristics',
  'retain-device-identity',
  'retain-uids',
  'retain-safe-private',
  'retain-institution-identity',
] as const;
export type ProfileOption = (typeof OPTIONS)[number];

export type ProfileRow = readonly [tag: string, name: string, basic: BasicAction, options?: Partial<Record<ProfileOption, OptionAction>>];
