/**
 * Who may do what: the permission table, as data, and the one pure function every route goes
 * through. Deny by default: a principal holds only the permissions listed for it here (or, for an
 * API token, the subset it was created with); a route declares exactly one permission or is public.
 */

export const PERMISSIONS = [
  'status:read', // service status, metrics, the OpenAPI document
  'studies:read', // study, series and instance lists with their UIDs (QIDO-RS, /api/studies)
  'originals:read', // identified originals (WADO-RS)
  'instances:store', // send instances in (STOW-RS)
  'jobs:read',
  'jobs:write', // retry dead or held jobs
  'recipients:read',
  'recipients:admin', // change recipients and agreements (used by the consent issue)
  'quarantine:read',
  'audit:read', // the audit trail
  'consent:read', // patients' consents (FHIR Consent: they name the patient)
  'consent:write', // record or withdraw a patient's consent
  'users:admin', // add, list and disable staff accounts
  'tokens:admin', // create, list and revoke API tokens
  'patient-codes:write', // issue a patient a portal access code
  'patients:erase', // erase a patient's data (crypto-shredding)
  'retention:admin', // legal holds
  'releases:read-own', // a recipient: its own releases
  'attestations:write', // a recipient: attest the deletion of its own releases
  'portal:read', // a patient: their own studies and where they went
  'portal:write', // a patient: their own choices (opt in or out of each purpose)
  'session:self', // any signed-in principal: who am I, sign out
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Staff roles (local accounts and single sign-on). */
export const STAFF_ROLES = ['admin', 'privacy-officer', 'operator', 'auditor'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

/** Roles a token can be created with: the staff roles, and `sender` (may only store: senders are not readers). */
export const TOKEN_ROLES = [...STAFF_ROLES, 'sender'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

const STAFF_READ: readonly Permission[] = ['status:read', 'studies:read', 'jobs:read', 'recipients:read', 'quarantine:read', 'session:self'];

/** The permission table (docs/security.md prints it). */
export const ROLE_PERMISSIONS: Readonly<Record<TokenRole | 'recipient' | 'patient', readonly Permission[]>> = {
  admin: [...STAFF_READ, 'originals:read', 'instances:store', 'jobs:write', 'recipients:admin', 'audit:read', 'consent:read', 'consent:write', 'users:admin', 'tokens:admin', 'patient-codes:write', 'patients:erase', 'retention:admin'],
  'privacy-officer': [...STAFF_READ, 'originals:read', 'recipients:admin', 'audit:read', 'consent:read', 'consent:write', 'patient-codes:write', 'patients:erase', 'retention:admin'],
  operator: [...STAFF_READ, 'jobs:write'],
  auditor: [...STAFF_READ, 'audit:read'],
  sender: ['instances:store', 'session:self'],
  recipient: ['releases:read-own', 'attestations:write', 'session:self'],
  patient: ['portal:read', 'portal:write', 'session:self'],
};

/** Who is asking. Each variant carries what its permissions are scoped to. */
export type Principal =
  | { kind: 'user'; userId: number; username: string; role: StaffRole; via: 'password' | 'oidc' }
  | { kind: 'token'; tokenId: string; name: string; permissions: readonly Permission[] }
  | { kind: 'recipient'; tokenId: string; recipient: string }
  | { kind: 'patient'; patientRef: string; codeId: number };

export function permissionsOf(p: Principal): readonly Permission[] {
  switch (p.kind) {
    case 'user': return ROLE_PERMISSIONS[p.role];
    case 'token': return p.permissions;
    case 'recipient': return ROLE_PERMISSIONS.recipient;
    case 'patient': return ROLE_PERMISSIONS.patient;
  }
}

/** The decision: may this principal (or nobody, when undefined) use a route that needs `permission`? */
export function allows(p: Principal | undefined, permission: Permission): boolean {
  return p !== undefined && permissionsOf(p).includes(permission);
}

/** How a principal is named in the audit trail and the API (no secrets, no PHI). */
export function principalLabel(p: Principal): string {
  switch (p.kind) {
    case 'user': return `user:${p.username}`;
    case 'token': return `token:${p.tokenId}`;
    case 'recipient': return `recipient:${p.recipient}/${p.tokenId}`;
    case 'patient': return `patient-code:${p.codeId}`;
  }
}

export const isPermission = (s: string): s is Permission => (PERMISSIONS as readonly string[]).includes(s);
export const isStaffRole = (s: string): s is StaffRole => (STAFF_ROLES as readonly string[]).includes(s);
export const isTokenRole = (s: string): s is TokenRole => (TOKEN_ROLES as readonly string[]).includes(s);
