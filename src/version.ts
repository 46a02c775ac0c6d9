/** The Custos version, and the Implementation Class UID it writes into file meta information (PS3.7 D.3.3.2). */
export const CUSTOS_VERSION = '0.1.0';
export const IMPLEMENTATION_CLASS_UID = '2.25.98151796231520834727839040263839741466';
export const IMPLEMENTATION_VERSION_NAME = `CUSTOS_${CUSTOS_VERSION.replace(/\./g, '')}`;
