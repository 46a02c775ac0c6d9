/*
 * The shapes of the API answers the browser app reads: one definition for the server routes that
 * return them and for the web client (web/src imports these types; they are erased at build time).
 */

/** Who is signed in (GET /auth/session, POST /auth/login, POST /portal/session). */
export interface SessionInfo { principal: string; kind: string; role?: string; permissions?: string[]; csrfToken?: string; expiresAt?: string }

/** A purpose of use as the portal shows it, with the patient's choice and whether images are shared for it now. */
export interface PortalChoice {
  code: string; title: string; explanation: string;
  /** The site's default: opt-out (shared unless refused), opt-in (not shared unless allowed), or none (not shared). */
  siteMode: 'opt-in' | 'opt-out' | null;
  choice: 'permit' | 'deny' | null;
  shared: boolean;
}

/** GET /portal/api/overview: how the hospital uses imaging AI, generated from its configuration. */
export interface PortalOverview {
  hospital: string;
  originalsKeptDays: number | null;
  recipients: Array<{
    id: string; organization: string; purpose: string; purposeTitle: string;
    deidentified: boolean; deidentification: string;
    approved: boolean; agreementInForce: boolean; keptDays: number | null;
  }>;
  purposes: PortalChoice[];
}

/** A row of the accounting of disclosures (GET /portal/api/accounting, GET /api/accounting). */
export interface Disclosure {
  recipient: string; purpose: string | null; studyInstanceUid: string; seriesInstanceUid: string;
  outcome: 'released' | 'withheld'; instances: number; firstAt: string; lastAt: string;
  deidentification?: { profile: string; options: string[]; key: string } | undefined;
  deletionAttested?: number | undefined;
  reasons?: string[] | undefined;
}

/** GET /api/status. */
export interface ServiceStatus {
  version: string; startedAt: string; uptimeSeconds: number;
  dimse: { host: string; port: number; aeTitle: string }; http: { url: string };
  database: string; instances: number; quarantined: number; logSize: number; jobs: Record<string, number>;
}

/** GET /api/studies. */
export interface StudySummary {
  studyInstanceUid: string; series: number; instances: number; modalities: string[];
  firstReceivedAt: string; lastReceivedAt: string; jobs: Record<string, number>;
}

/** GET /api/recipients (with GET /api/recipients/:id/policy for vetting and agreements). */
export interface RecipientSummary {
  id: string; description?: string; kind: 'dimse' | 'stow'; target: string;
  profile: string; options: string[]; key: string; jobs: Record<string, number>;
}
