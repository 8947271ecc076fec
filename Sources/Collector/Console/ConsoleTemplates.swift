import Mustache

/// The console's pages as Mustache templates (swift-mustache), compiled into the binary:
/// clusters are often air-gapped, so the console loads nothing from anywhere else. Every
/// page extends `layout`. `{{…}}` escapes; `{{{…}}}` is used only for fragments built by
/// ``HTML``, which escapes what it inserts.
enum ConsoleTemplates {
    /// The compiled library. A template that does not parse is a bug caught by every test
    /// that renders a page.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("layout", layout), ("issues", issues), ("issue", issue), ("destinations", destinations),
                             ("silences", silences), ("preview", preview), ("messages", messages), ("error", error)] {
            // swiftlint:disable:next force_try
            try! library.register(text, named: name)
        }
        return library
    }()

    static let css = """
        :root { --fg:#1d1c1d; --muted:#616061; --line:#e1e1e1; --bg:#f8f8f8; --ok:#2eb67d; --bad:#e01e5a; --warn:#ecb22e; --info:#1d9bd1; }
        * { box-sizing: border-box; }
        body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:#fff; }
        header { display:flex; gap:1.5em; align-items:center; padding:.6em 1.2em; border-bottom:1px solid var(--line); background:var(--bg); flex-wrap:wrap; }
        header .brand { font-weight:700; color:var(--fg); text-decoration:none; }
        nav a { margin-right:1em; color:var(--info); text-decoration:none; }
        .who { margin-left:auto; }
        main { padding:1em 1.2em; max-width:1400px; }
        h1 { font-size:1.4em; margin:.2em 0 .6em; } h2 { font-size:1.15em; margin:1.2em 0 .5em; } h3 { font-size:1em; margin:.3em 0; }
        table { border-collapse:collapse; width:100%; margin:.4em 0 1em; }
        th, td { text-align:left; padding:.35em .5em; border-bottom:1px solid var(--line); vertical-align:top; }
        th { background:var(--bg); font-weight:600; }
        .muted { color:var(--muted); } .mono, code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size:12.5px; }
        pre { background:var(--bg); border:1px solid var(--line); padding:.6em; overflow:auto; max-height:30em; white-space:pre-wrap; word-break:break-word; }
        .md { white-space:pre-wrap; }
        .badge { display:inline-block; padding:0 .45em; margin:0 .25em .2em 0; border-radius:3px; font-size:12px; background:#eee; white-space:nowrap; }
        .badge.ok { background:#dff3ea; } .badge.bad { background:#fbe1e8; } .badge.warn { background:#fdf3d8; } .badge.info { background:#e1f1f9; }
        .flash { margin:.8em 1.2em 0; padding:.5em .8em; border-radius:4px; }
        .flash.ok { background:#dff3ea; } .flash.error { background:#fbe1e8; }
        form.inline { display:inline; } input, select, textarea, button { font:inherit; }
        textarea { width:100%; }
        button { cursor:pointer; }
        .filters { display:flex; gap:.6em; flex-wrap:wrap; align-items:end; margin-bottom:.6em; }
        .filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
        .cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(300px,1fr)); gap:1em; }
        .card { border:1px solid var(--line); border-radius:6px; padding:.7em 1em; }
        .enrichment { border:1px solid var(--line); border-radius:6px; padding:.5em .9em; margin:.6em 0; }
        .enrichment[data-type="diagnosis"] { border-left:4px solid var(--info); }
        figure img { max-width:100%; }
        dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2em 1em; }
        dl.facts dt { color:var(--muted); }
        .slack-message { font-family: Lato, system-ui, sans-serif; border:1px solid var(--line); border-radius:6px; padding:.7em; max-width:760px; }
        .sl-attachment { border-left:4px solid #ddd; padding-left:.8em; }
        .sl-header { font-weight:700; font-size:1.1em; margin:.3em 0; }
        .sl-section { margin:.35em 0; } .sl-fields { display:grid; grid-template-columns:1fr 1fr; gap:.3em 1em; }
        .sl-context { color:var(--muted); font-size:12px; margin:.3em 0; }
        .sl-button a { display:inline-block; border:1px solid #bbb; border-radius:4px; padding:.1em .7em; margin:.2em .4em .2em 0; color:var(--fg); text-decoration:none; }
        .sl-table td, .sl-table th { font-size:12.5px; }
        """

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="same-origin">
        <title>{{context.title}} · cano-collector</title>
        <style>{{{context.css}}}</style></head>
        <body>{{#context}}
        <header><a class="brand" href="{{base}}/">cano-collector</a>
        <nav><a href="{{base}}/">Issues</a><a href="{{base}}/destinations">Destinations</a><a href="{{base}}/silences">Silences</a><a href="{{base}}/preview">Preview</a></nav>
        <div class="who">
        {{#admin}}<span id="admin-badge" class="badge ok">admin</span>
        <form method="post" action="{{base}}/admin/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Sign out</button></form>{{/admin}}
        {{^admin}}{{#adminConfigured}}<form id="admin-login" method="post" action="{{base}}/admin" class="inline">
        <input type="hidden" name="back" value="{{path}}"><input type="password" name="token" placeholder="admin token" autocomplete="off" aria-label="admin token">
        <button type="submit">Sign in as admin</button></form>{{/adminConfigured}}
        {{^adminConfigured}}<span class="muted">read-only: set server.admin_token to retry and silence here</span>{{/adminConfigured}}{{/admin}}
        </div></header>
        {{#flash}}<div id="flash" class="flash {{kind}}" role="status">{{text}}</div>{{/flash}}
        <main>{{$body}}{{/body}}</main>
        {{/context}}</body></html>
        """

    static let issues = """
        {{<layout}}{{$body}}
        <h1>Issues</h1>
        <form id="filters" class="filters" method="get" action="{{base}}/">
        <label>Status<select name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select></label>
        <label>Severity<select name="severity">{{#severities}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/severities}}</select></label>
        <label>Namespace<input name="namespace" value="{{namespace}}" list="namespaces" size="16"></label>
        <datalist id="namespaces">{{#namespaces}}<option value="{{.}}">{{/namespaces}}</datalist>
        <label>Source<select name="source">{{#sources}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sources}}</select></label>
        <label>Destination<select name="destination">{{#destinationOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/destinationOptions}}</select></label>
        <button type="submit">Filter</button> <a href="{{base}}/">Clear</a>
        </form>
        <p class="muted">{{shown}} Issue(s){{#filtered}} matching the filters{{/filtered}}, newest first (the collector keeps the last {{history}}; a page shows at most 200).</p>
        <table id="issues"><thead><tr><th>Received</th><th>Severity</th><th>Status</th><th>Issue</th><th>Namespace</th><th>Source</th><th>Where it went</th></tr></thead><tbody>
        {{#rows}}<tr class="issue" data-fingerprint="{{fingerprint}}" data-status="{{status}}">
        <td class="mono">{{received}}</td><td>{{severity}}</td><td>{{status}}</td>
        <td><a class="issue-link" href="{{base}}/issues/{{id}}">{{title}}</a></td><td>{{namespace}}</td><td>{{source}}</td>
        <td class="outcome">{{#badges}}<span class="badge {{kind}}">{{text}}</span>{{/badges}}</td></tr>
        {{/rows}}{{^rows}}<tr><td colspan="7" class="muted">{{#filtered}}No Issue matches these filters.{{/filtered}}{{^filtered}}No Issue yet. Send one: <code>curl -XPOST {{intakeHint}} -d @examples/alert.json</code> (with the intake's credentials, if it has any), or try the <a href="{{base}}/preview">preview</a>.{{/filtered}}</td></tr>{{/rows}}
        </tbody></table>
        {{/body}}{{/layout}}
        """

    static let issue = """
        {{<layout}}{{$body}}
        <h1>{{title}}</h1>
        <dl class="facts">
        <dt>Status</dt><dd>{{status}}</dd><dt>Severity</dt><dd>{{severity}}</dd><dt>Source</dt><dd>{{source}}</dd>
        <dt>Subject</dt><dd>{{subject}}</dd><dt>Started</dt><dd class="mono">{{startsAt}}</dd><dt>Received</dt><dd class="mono">{{received}}</dd>
        <dt>Fingerprint</dt><dd class="mono">{{fingerprint}}</dd>
        </dl>
        {{#description}}<div class="md">{{description}}</div>{{/description}}
        <p><a id="silence-issue" href="{{base}}/silences?{{silenceQuery}}">Silence Issues like this…</a></p>
        <h2>Routing</h2>
        {{^routes}}<p id="no-route" class="badge bad">matched no route and there is no default destination: it went nowhere</p>{{/routes}}
        <table id="routes"><thead><tr><th>Destination</th><th>Route</th><th>Outcome</th><th>What it means</th></tr></thead><tbody>
        {{#routes}}<tr class="route" data-destination="{{destination}}" data-outcome="{{outcome}}"><td>{{destination}}</td><td class="mono">{{route}}</td>
        <td><span class="badge {{kind}}">{{outcome}}</span></td><td>{{meaning}}</td></tr>{{/routes}}
        </tbody></table>
        <h2>Deliveries</h2>
        <table id="deliveries"><thead><tr><th>Destination</th><th>State</th><th>Attempts</th><th>Queued</th><th>Last change</th><th>Last message</th><th>Reference</th></tr></thead><tbody>
        {{#deliveries}}<tr class="delivery" data-destination="{{destination}}" data-state="{{state}}" data-id="{{id}}"><td>{{destination}}</td>
        <td><span class="badge {{kind}}">{{state}}</span>{{#cause}} <span class="muted">({{cause}})</span>{{/cause}}</td><td>{{attempts}}</td>
        <td class="mono">{{queued}}</td><td class="mono">{{updated}}</td><td>{{message}}</td><td class="mono">{{reference}}</td></tr>{{/deliveries}}
        {{^deliveries}}<tr><td colspan="7" class="muted">No delivery of this occurrence is recorded (held, deduplicated, not routed, or pruned after delivery).</td></tr>{{/deliveries}}
        </tbody></table>
        <h2>Enrichments</h2>
        <section id="enrichments">{{{enrichments}}}</section>
        <h2>Messages</h2>
        <p class="muted">This Issue as each destination renders it now, from what was recorded, as a message of its own
        (one that went out in a group's notification was shown within the group's message).</p>
        <section id="messages">{{> messages}}</section>
        <details><summary>Issue JSON</summary><pre class="json">{{issueJSON}}</pre></details>
        {{/body}}{{/layout}}
        """

    static let destinations = """
        {{<layout}}{{$body}}
        <h1>Destinations</h1>
        <div class="cards">
        {{#destinations}}<section class="destination card" data-name="{{name}}" data-ready="{{ready}}">
        <h2>{{name}} <span class="muted">({{type}})</span></h2>
        <p>{{#ready}}<span class="badge ok">ready</span>{{/ready}}{{^ready}}<span class="badge bad">not ready</span> <span class="why">{{why}}</span>{{/ready}}
        {{#suspect}}<span class="badge warn">suspect</span> {{suspect}}{{/suspect}}</p>
        <dl class="facts"><dt>Queue depth</dt><dd class="queue-depth">{{pending}}</dd><dt>Oldest pending</dt><dd class="oldest-pending mono">{{oldest}}</dd>
        <dt>Dead letters</dt><dd>{{dead}}</dd></dl>
        <details><summary>Config (redacted)</summary><pre class="config">{{config}}</pre></details>
        {{#hasFailures}}<h3>Recent failures</h3><ul class="failures">{{#failures}}<li><span class="mono">{{updated}}</span> {{state}} after {{attempts}}: {{message}}</li>{{/failures}}</ul>{{/hasFailures}}
        </section>{{/destinations}}
        </div>
        <h2>Dead letters</h2>
        {{#admin}}{{#hasDeadLetters}}<form id="retry-all" method="post" action="{{base}}/dead-letters/retry"><input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Retry all {{deadCount}}</button></form>{{/hasDeadLetters}}{{/admin}}
        <table id="dead-letters"><thead><tr><th>Id</th><th>Destination</th><th>Issue</th><th>Cause</th><th>Attempts</th><th>Last change</th><th>Last message</th><th></th></tr></thead><tbody>
        {{#deadLetters}}{{#delivery}}<tr class="dead-letter" data-id="{{id}}" data-destination="{{destination}}"><td class="mono">{{id}}</td><td>{{destination}}</td>
        <td>{{#issueLink}}<a href="{{base}}/issues/{{issueLink}}">{{title}}</a>{{/issueLink}}{{^issueLink}}{{title}}{{/issueLink}}</td>
        <td>{{cause}}</td><td class="attempts">{{attempts}}</td><td class="mono">{{updated}}</td><td>{{message}}</td>
        <td>{{#admin}}<form class="retry" method="post" action="{{base}}/dead-letters/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Retry</button></form>{{/admin}}</td></tr>{{/delivery}}{{/deadLetters}}
        {{^deadLetters}}<tr><td colspan="8" class="muted">No dead letters.</td></tr>{{/deadLetters}}
        </tbody></table>
        {{^admin}}<p class="muted">Sign in as admin to retry dead letters.</p>{{/admin}}
        {{/body}}{{/layout}}
        """

    static let silences = """
        {{<layout}}{{$body}}
        <h1>Silences</h1>
        {{#admin}}<h2>New silence</h2>
        <form id="new-silence" method="post" action="{{base}}/silences"><input type="hidden" name="csrf" value="{{csrf}}">
        <p><label>Matchers, one per line (Alertmanager's syntax, such as <code>alertname="KubePodCrashLooping"</code>)<br>
        <textarea name="matchers" rows="4">{{matchers}}</textarea></label></p>
        <p><label>Duration <input name="duration" value="{{duration}}" size="8" required></label>
        <label>Created by <input name="created_by" value="{{createdBy}}" size="20"></label>
        <label>Comment (required) <input name="comment" value="{{comment}}" size="40" required></label>
        <button type="submit">Create silence</button></p></form>{{/admin}}
        {{^admin}}{{#adminConfigured}}{{#matchers}}<p>Sign in as admin to create a silence with these matchers:</p><pre>{{matchers}}</pre>{{/matchers}}{{/adminConfigured}}
        {{^adminConfigured}}<p class="muted">Silences are read-only here: set server.admin_token to add and expire them.</p>{{/adminConfigured}}{{/admin}}
        <table id="silences"><thead><tr><th>State</th><th>Matchers</th><th>Starts</th><th>Ends</th><th>Created by</th><th>Comment</th><th></th></tr></thead><tbody>
        {{#silences}}<tr class="silence" data-id="{{id}}" data-state="{{state}}"><td><span class="badge {{kind}}">{{state}}</span></td><td class="mono">{{matchers}}</td>
        <td class="mono">{{startsAt}}</td><td class="mono">{{endsAt}}</td><td>{{createdBy}}</td><td>{{comment}}</td>
        <td>{{#expirable}}{{#admin}}<form class="expire" method="post" action="{{base}}/silences/{{id}}/expire"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Expire</button></form>{{/admin}}{{/expirable}}</td></tr>{{/silences}}
        {{^silences}}<tr><td colspan="7" class="muted">No silences.</td></tr>{{/silences}}
        </tbody></table>
        {{/body}}{{/layout}}
        """

    static let preview = """
        {{<layout}}{{$body}}
        <h1>Preview</h1>
        <p class="muted">Paste an Alertmanager webhook body: the console shows the Issues the intake would make, the route each
        would take, and the message each destination would render, with the enrichments and the likely cause the pipeline adds
        (read from the cluster now, if the collector has access). Nothing is stored or sent, and no LLM is asked.</p>
        <form id="preview" method="post" action="{{base}}/preview">
        <textarea name="body" rows="14" class="mono" spellcheck="false">{{body}}</textarea>
        <p><button type="submit">Preview</button></p></form>
        {{#error}}<p id="preview-error" class="flash error">{{error}}</p>{{/error}}
        {{#rejected}}<p class="rejected badge bad">{{.}}</p>{{/rejected}}
        {{#issues}}<section class="preview-issue">
        <h2>{{title}} <span class="badge">{{status}}</span> <span class="badge">{{severity}}</span></h2>
        <p class="preview-route">{{#routed}}Routed to: {{#routes}}<span class="badge info">{{destination}}</span>{{#silenced}}<span class="badge warn">silenced by {{silenced}}</span>{{/silenced}}{{#grouped}}<span class="badge">grouped: sent in its group's notification, not alone as shown</span>{{/grouped}} {{/routes}}{{/routed}}
        {{^routes}}<span class="badge bad">no route</span>: it would go nowhere.{{/routes}}</p>
        {{> messages}}
        </section>{{/issues}}
        {{/body}}{{/layout}}
        """

    /// Each destination's rendering of an Issue (the preview, and an Issue's page).
    static let messages = """
        {{#renders}}<div class="destination-preview" data-destination="{{destination}}">
        <h3>{{heading}} <span class="muted">{{summary}}</span></h3>
        {{{html}}}
        {{#builderURL}}<p><a class="block-kit-builder" href="{{builderURL}}" target="_blank" rel="noreferrer noopener">Open in Slack's Block Kit Builder</a></p>{{/builderURL}}
        {{#payload}}<details><summary>Request body</summary><pre class="payload">{{payload}}</pre></details>{{/payload}}
        </div>{{/renders}}
        """

    static let error = """
        {{<layout}}{{$body}}<h1>{{heading}}</h1><p>{{message}}</p>{{/body}}{{/layout}}
        """
}
