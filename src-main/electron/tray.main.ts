import { Menu, Tray, nativeImage, type BrowserWindow } from 'electron';
import { siteEventSchema, type ConnectionState } from '../../core/site-api/contract.js';

const CONNECTION_WORDS: Record<ConnectionState, string> = {
  'not-enrolled': 'not enrolled yet',
  connecting: 'connecting to the coordinator…',
  connected: 'connected to the coordinator',
  disconnected: 'disconnected; retrying',
  refused: 'refused by the coordinator',
};

/**
 * The tray icon: the site's connection state at a glance (the agent keeps taking part in rounds while
 * the window is closed to the tray), and a menu to show the window or quit. Fed from the agent's own
 * status events, validated like every message that crosses a process boundary.
 */
export class SiteTray {
  private readonly tray: Tray;
  private siteName = 'Cohort';
  private connection = 'starting';

  constructor(
    iconPath: string,
    private readonly window: BrowserWindow,
    quit: () => void,
  ) {
    this.tray = new Tray(nativeImage.createFromPath(iconPath));
    this.tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: 'Show Cohort', click: () => this.show() },
        { type: 'separator' },
        { label: 'Quit Cohort (stops taking part in rounds)', click: quit },
      ]),
    );
    this.tray.on('click', () => this.show());
    this.render();
  }

  /** Takes any event the agent emitted; only status events change the tray. */
  onAgentEvent(event: unknown): void {
    const parsed = siteEventSchema.safeParse(event);
    if (!parsed.success || parsed.data.type !== 'status') return;
    const { status } = parsed.data;
    this.siteName = status.site?.name ?? 'Cohort';
    this.connection = CONNECTION_WORDS[status.connection.state];
    this.render();
  }

  show(): void {
    if (this.window.isDestroyed()) return;
    if (this.window.isMinimized()) this.window.restore();
    this.window.show();
    this.window.focus();
  }

  destroy(): void {
    this.tray.destroy();
  }

  private render(): void {
    this.tray.setToolTip(`${this.siteName}: ${this.connection}`);
  }
}
