/**
 * The coordinator's admin API (`/v1/admin/*`, bearer admin token): what the console and
 * `cohort server status` read. The console imports these types only.
 */
export interface AdminSite {
  id: string;
  name: string;
  fingerprint: string;
  enrolledAt: string;
  revoked: boolean;
  connected: boolean;
  connectedAt: string | null;
}

export interface AdminStatus {
  coordinator: {
    name: string;
    publicUrl: string;
    certificateFingerprint: string;
    identityFingerprint: string;
  };
  sites: AdminSite[];
}

export interface AdminInvitation {
  link: string;
  siteName: string;
  expiresAt: string;
}
