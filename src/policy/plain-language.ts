/*
 * What the portal tells a patient, in plain words, generated from the live configuration: each
 * purpose of use (HL7 v3-ActReason) and each de-identification setting, explained for a lay reader.
 * Pure: no I/O.
 */

/** A purpose as a patient would recognise it, and what a choice about it means. */
export interface PurposeText { title: string; explanation: string }

const PURPOSE_TEXT: Readonly<Record<string, PurposeText>> = {
  TREAT: { title: 'Your own care', explanation: 'Your images are used by the people and systems that look after you.' },
  TREATDS: { title: 'AI-assisted care', explanation: 'An AI program reads your images to help your doctors with your own diagnosis or treatment.' },
  HOPERAT: { title: 'Running the hospital', explanation: 'Your images are used to check and improve how the hospital works, for example the quality of its scanners.' },
  HRESCH: { title: 'Medical research', explanation: 'Researchers study images from many patients to learn about diseases and treatments.' },
  BIORCH: { title: 'Biomedical research', explanation: 'Researchers study images from many patients to learn how the body works and what goes wrong in disease.' },
  CLINTRCH: { title: 'Clinical trials', explanation: 'Images are used in a clinical trial that tests a new treatment or test.' },
  CLINTRCHNPC: { title: 'Clinical trials (not taking part)', explanation: 'Images of patients who are not in a trial are used to compare with those who are.' },
  CLINTRCHPC: { title: 'Clinical trials (taking part)', explanation: 'Images are used in a clinical trial you take part in.' },
  PRECLINTRCH: { title: 'Early research', explanation: 'Images are used in early research, before treatments are tried in people.' },
  DSRCH: { title: 'Disease research', explanation: 'Researchers study images to understand a particular disease.' },
  POARCH: { title: 'Population research', explanation: 'Researchers study images to learn about the health of a whole population.' },
  TRANSRCH: { title: 'Research into new treatments', explanation: 'Researchers use images to turn discoveries into new tests and treatments.' },
  MLTRAINING: { title: 'Training AI systems', explanation: 'A company or research group uses images from many patients to teach an AI program to read images. The program may later be used for other patients.' },
};

export function purposeText(code: string): PurposeText {
  return PURPOSE_TEXT[code] ?? { title: code, explanation: 'A use of your images the hospital has described under this code.' };
}

/** How a recipient's copies are made, in plain words. */
export function deidentificationText(deid: { profile: string; options: readonly string[]; key: string }): string {
  if (deid.profile === 'none') return 'They receive your images as they are, with your name and other details: only for your own care, inside the hospital.';
  const kept: string[] = [];
  const o = new Set(deid.options);
  if (o.has('retain-longitudinal-full-dates')) kept.push('the real dates of your scans');
  else if (o.has('retain-longitudinal-modified-dates')) kept.push('dates moved by a secret number of days (the time between your scans stays true)');
  if (o.has('retain-patient-characteristics')) kept.push('your sex, age, height and weight');
  if (o.has('retain-device-identity')) kept.push('which scanner was used');
  if (o.has('retain-institution-identity')) kept.push('the name of the hospital');
  const parts = ['Your name, ID numbers, address, birth date and other details that identify you are removed before the images leave, following the DICOM standard (PS3.15 Annex E).'];
  parts.push(deid.key === 'recipient'
    ? 'You are given a code name that is different for each recipient, so recipients cannot link their copies with each other.'
    : 'You are given a code name in place of your name.');
  if (kept.length) parts.push(`They do keep ${kept.join(', ')}.`);
  if (o.has('clean-pixel-data')) parts.push('Text written into the images themselves is found and blacked out.');
  if (o.has('clean-recognizable-visual-features')) parts.push('Faces are removed from head CT and MR scans before they are sent, because a face could be rebuilt from them; head PET scans are not sent.');
  return parts.join(' ');
}
