// The commented config `shipgate init` writes: three environments, four roles, one service,
// and the production policy most teams start from. Every field it sets is explained in place,
// and loading it must always succeed (a test holds it to that).

export function initTemplate(): string {
  return `# shipgate config. Every field is described in docs/config.md; \`shipgate validate\` checks
# this file and \`shipgate schema\` prints its JSON Schema for editor completion:
# yaml-language-server: $schema=./shipgate.schema.json
version: 1

# Where shipgate keeps releases, deployments and the audit log. The SQLite file is relative to
# this file. When the environment variable named by url_env holds a PostgreSQL URL
# (postgres://user:pass@host/db), that database is used instead.
store:
  sqlite: .shipgate/shipgate.db
  url_env: SHIPGATE_DATABASE_URL

# \`shipgate serve\` listens here. Keep it on loopback unless a TLS proxy is in front.
server:
  host: 127.0.0.1
  port: 8080

# Roles name who may approve what. Users hold one or more roles.
roles: [developer, devops-lead, tech-lead, vp-engineering]

# People. On the local store a user says who they are with --as or SHIPGATE_USER; against a
# server they send an API token: \`shipgate token create <user>\` prints one and stores only its
# hash. A token can also be declared here by its sha256 (never the token itself):
#   tokens: [{ label: ci, sha256: <64 hex digits of sha256(token)> }]
users:
  - name: alice
    roles: [devops-lead]
  - name: bob
    roles: [tech-lead]
  - name: carol
    roles: [developer]
  - name: dana
    roles: [vp-engineering]

services:
  - name: web
    description: Customer-facing web app
    # How the local driver starts one version: a process of its own on a free port ({version},
    # {digest} and {port} are filled in; PORT and VERSION are set). \`shipgate init\` wrote
    # sample-service.mjs to try it with: put your service's start command here.
    run:
      command: [node, sample-service.mjs]
      ready_path: /ready          # answers 2xx once the version can take traffic
      ports:                      # where users reach the service in each environment
        staging: 8081
        production: 8082

# Environments in promotion order. A release must be verified in the previous environment
# before it may be requested in the next one (require_verified_in), unless a policy says
# otherwise.
environments:
  - name: dev
    policy:
      auto_approve: true          # no approvals: passing checks are enough

  - name: staging
    policy:
      auto_approve: true
      soak: 0                     # no waiting after dev
    # shipgate rolls deployments out here itself, on the local driver, 10% → 50% → 100%, each
    # step passed by the canary judge on live traffic (docs/rollout.md).
    rollout:
      steps: [10, 50, 100]
      min_step: 15s               # a step lasts at least this long
      max_step: 5m                # still inconclusive then: pause for a person (shipgate resume)
      post_deploy: [0s]           # smoke tests again once at 100%
      smoke:
        - { name: health, path: /health, json: { status: ok } }

  - name: production
    timezone: Europe/Amsterdam    # windows and freezes are in this zone, DST included
    policy:
      require_verified_in: staging
      soak: 1h                    # time since the release was verified in staging
      vulnerabilities:            # maximum per severity in attached scans
        critical: 0
        high: 5
      require_scan: true          # a release without a scan report is refused
      rollback_target: required   # the release now in production must be known; the very first
                                  # release here has none: deploy it with \`warn\`, then set \`required\`
      windows:                    # deployments start only inside a window
        - days: [tue, wed, thu]
          start: "10:00"
          end: "14:00"
      freezes:
        - name: end-of-year
          yearly: { from: "12-20", to: "01-02" }
          reason: Reduced staffing over the holidays
        - name: weekend
          weekly: { from: "fri 15:00", to: "mon 09:00" }
        - name: public-holidays
          holidays: { country: NL }
        # a one-off freeze: from/to are local dates (to inclusive) or date-times
        # - name: black-friday
        #   from: "2026-11-27"
        #   to: "2026-11-30"
      checklist:
        - id: tests-passed
          text: Test report attached with no failures
          evidence: tests           # satisfied by an attached JUnit report with 0 failures
        - id: rollback-plan
          text: Rollback plan reviewed   # ticked by a person: shipgate tick <id> rollback-plan
        - id: monitoring
          text: Dashboards and alerts ready for the new version
      approvals:
        required:                 # one devops lead AND one tech lead, two different people
          - { role: devops-lead, count: 1 }
          - { role: tech-lead, count: 1 }
        ttl: 24h                  # an older approval lapses and must be given again
      deployment_ttl: 72h         # a request not started within this expires
      emergency:                  # hotfixes: --hotfix --incident INC-123
        approvals:
          - { role: vp-engineering, count: 1 }
        may_bypass: [window, freeze, soak]   # recorded and shown on every bypass
      # rollback_rehearsal:       # a recent \`shipgate rehearse\` in staging, rollback within the SLO
      #   within: 7d
      #   slo: 5m
      # security:                 # HTTPS checks of each service's address before a rollout
      #   url: "https://{service}.example.com/health"
      #   min_cert_days: 14
      #   require: [hsts, csp, x_frame_options]
      # parity:                   # settings drift from staging (environments[].settings)
      #   allow: [DB_URL, REPLICAS]
      #   critical: all_except_allowed
    # settings:                   # compared by \`shipgate parity staging production\`
    #   DB_URL: postgres://db.production/web
    #   API_KEY: { secret_env: WEB_API_KEY }   # secrets: compared by sha256, never shown
    rollout:
      steps: [10, 50, 100]
      min_step: 1m
      max_step: 10m
      on_inconclusive: pause      # or rollback
      post_deploy: [0s, 5m, 30m]  # smoke tests and the canary's figures again after 100%
      smoke:
        - { name: health, path: /health, json: { status: ok } }
        - { name: ready, path: /ready }
`;
}
