using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;

namespace Moderation.Streams.Review;

/// <summary>
/// The web console: plain server-rendered pages, forms with antiforgery tokens, one small script for reveal and keyboard
/// shortcuts. Pages: login, queue (priority order, filters), item (media blurred and grey until revealed, reasons, scores,
/// bank match, video timestamps, caption with matches highlighted, claim / takedown / allow / escalate, bulk verdicts for
/// its PDQ cluster), audit (admins), overturn rates.
/// </summary>
public static class ConsolePages
{
    /// <summary>Queue items compared with an item for its PDQ cluster (the most urgent first).</summary>
    public const int ClusterScan = 2000;

    /// <summary>Largest Hamming distance to the item's hash for another queued item to count as its cluster.</summary>
    public const int ClusterDistance = 31;

    /// <summary>Most rows the queue page lists, the most urgent first (its filters apply to the <see cref="ClusterScan"/>
    /// most urgent items; the API pages through all).</summary>
    public const int QueuePageRows = 1000;

    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/static/console.css", () => Results.Text(ConsoleAssets.Css, "text/css; charset=utf-8")).AllowAnonymous();
        app.MapGet("/static/console.js", () => Results.Text(ConsoleAssets.Script, "text/javascript; charset=utf-8")).AllowAnonymous();
        app.MapGet("/login", (HttpContext http, IAntiforgery af, ReviewOptions options) => Login(http, af, options, null)).AllowAnonymous();
        app.MapPost("/login", LoginPost).AllowAnonymous();
        app.MapGet("/denied", (HttpContext http, IAntiforgery af) => Page(http, af, "Forbidden", "<p class=\"error\">Your role may not open this page.</p>", 403));
        var pages = app.MapGroup("").RequireAuthorization(ReviewHost.PagePolicy);
        pages.MapPost("/logout", async (HttpContext http, IAntiforgery af) =>
        {
            if (!await af.IsRequestValidAsync(http).ConfigureAwait(false)) return BadForm();
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme).ConfigureAwait(false);
            return Results.Redirect("/login");
        });
        pages.MapGet("/", Queue);
        pages.MapGet("/items/{contentId}", Item);
        pages.MapGet("/items/{contentId}/media", async (string contentId, HttpContext http, MediaService media, CancellationToken ct) =>
            !UploadEventParser.IsValidId(contentId) ? Results.NotFound() : await media.ServeAsync(contentId, http, ct).ConfigureAwait(false));
        pages.MapPost("/items/{contentId}/claim", (string contentId, HttpContext http, IAntiforgery af, VerdictService v) =>
            Act(http, af, contentId, () => v.ClaimAsync(contentId, Name(http))));
        pages.MapPost("/items/{contentId}/release", (string contentId, HttpContext http, IAntiforgery af, VerdictService v) =>
            Act(http, af, contentId, () => v.ReleaseAsync(contentId, Name(http), http.User.IsInRole(ReviewRoles.Admin))));
        pages.MapPost("/items/{contentId}/verdict", Verdict);
        pages.MapPost("/items/{contentId}/bulk", Bulk);
        pages.MapGet("/audit", Audit).RequireAuthorization(ReviewHost.AdminPolicy);
        pages.MapGet("/overturns", Overturned);
    }

    private static string Name(HttpContext http) => http.User.Identity!.Name!;

    private static IResult BadForm() => Results.Text("The form expired or did not come from this console; reload the page.", "text/plain", statusCode: 400);

    private static string E(string? s) => Html.Encode(s ?? "");

    private static IResult Page(HttpContext http, IAntiforgery af, string title, string body, int status = 200)
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append(" · moderation review</title>")
          .Append("<link rel=\"stylesheet\" href=\"/static/console.css\"><script src=\"/static/console.js\" defer></script></head><body><header><strong>moderation review</strong>");
        if (http.User.Identity?.IsAuthenticated == true)
        {
            sb.Append("<a href=\"/\">Queue</a><a href=\"/overturns\">Overturns</a>");
            if (http.User.IsInRole(ReviewRoles.Admin)) sb.Append("<a href=\"/audit\">Audit</a>");
            sb.Append("<form method=\"post\" action=\"/logout\">").Append(Token(http, af)).Append(E(Name(http))).Append(" (")
              .Append(E(http.User.FindFirstValue(ClaimTypes.Role))).Append(") <button>Log out</button></form>");
        }
        sb.Append("</header><main><h1>").Append(E(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return Results.Content(sb.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static string Token(HttpContext http, IAntiforgery af)
    {
        var tokens = af.GetAndStoreTokens(http);
        return $"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken)}\">";
    }

    private static IResult Login(HttpContext http, IAntiforgery af, ReviewOptions options, string? error, int status = 200, string? returnUrl = null)
    {
        returnUrl ??= http.Request.Query["ReturnUrl"].ToString();
        var body = new StringBuilder("<form class=\"login panel\" method=\"post\" action=\"/login\">");
        body.Append(Token(http, af));
        if (error is not null) body.Append("<p class=\"error\" id=\"login-error\">").Append(E(error)).Append("</p>");
        body.Append("<label>User <input name=\"username\" id=\"username\" autocomplete=\"username\" required maxlength=\"64\"></label>")
            .Append("<label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"></label>")
            .Append("<input type=\"hidden\" name=\"return\" value=\"").Append(E(returnUrl)).Append("\"><button id=\"login\">Log in</button>");
        if (options.Oidc.Enabled) body.Append(" <a href=\"/login/oidc\">Log in with single sign-on</a>");
        body.Append("</form>");
        return Page(http, af, "Log in", body.ToString(), status);
    }

    private static async Task<IResult> LoginPost(HttpContext http, IAntiforgery af, ReviewUsers users, LoginThrottle throttle, ReviewTelemetry telemetry, ReviewOptions options)
    {
        if (!await af.IsRequestValidAsync(http).ConfigureAwait(false)) return BadForm();
        string address = ClientAddress.Of(http);
        if (throttle.RetryAfterSeconds(address) is var wait and > 0)
        {
            telemetry.LoginFailed("form-throttled");
            http.Response.Headers.RetryAfter = wait.ToString(CultureInfo.InvariantCulture);
            return Login(http, af, options, $"Too many failed logins from this address; try again in {wait} s.", 429);
        }
        var form = await http.Request.ReadFormAsync().ConfigureAwait(false);
        string back = form["return"].ToString();
        var user = users.Authenticate(form["username"].ToString(), form["password"].ToString());
        if (user is null)
        {
            throttle.Failed(address);
            telemetry.LoginFailed("form");
            return Login(http, af, options, "Unknown user or wrong password.", 401, back);
        }
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            BasicAuthenticationHandler.Principal(user.Name, user.Role, CookieAuthenticationDefaults.AuthenticationScheme)).ConfigureAwait(false);
        // Only a path of this console (never //host or a scheme): no open redirect.
        return Results.Redirect(back.StartsWith('/') && !back.StartsWith("//", StringComparison.Ordinal) && !back.StartsWith("/\\", StringComparison.Ordinal) ? back : "/");
    }

    private static async Task<IResult> Act(HttpContext http, IAntiforgery af, string contentId, Func<Task<ReviewResult>> action)
    {
        if (!await af.IsRequestValidAsync(http).ConfigureAwait(false)) return BadForm();
        if (!UploadEventParser.IsValidId(contentId)) return Results.NotFound();
        var result = await action().ConfigureAwait(false);
        return Results.Redirect($"/items/{Uri.EscapeDataString(contentId)}" + (result.IsOk ? "" : "?error=" + Uri.EscapeDataString(result.Error ?? "failed")));
    }

    private static async Task<IResult> Verdict(string contentId, HttpContext http, IAntiforgery af, VerdictService verdicts, ReviewStore store, CancellationToken ct)
    {
        if (!await af.IsRequestValidAsync(http).ConfigureAwait(false)) return BadForm();
        if (!UploadEventParser.IsValidId(contentId)) return Results.NotFound();
        var form = await http.Request.ReadFormAsync(ct).ConfigureAwait(false);
        string verdict = form["verdict"].ToString();
        string? note = form["note"].ToString() is { Length: > 0 } n ? n : null;
        ReviewResult result = verdict == "escalate"
            ? await verdicts.EscalateAsync(contentId, Name(http), note).ConfigureAwait(false)
            : await verdicts.VerdictAsync(contentId, Name(http), new VerdictRequest(verdict,
                form["add_to_bank"] == "on" && form["bank"].ToString() is { Length: > 0 } b ? b : null, note), ct).ConfigureAwait(false);
        if (!result.IsOk) return Results.Redirect($"/items/{Uri.EscapeDataString(contentId)}?error={Uri.EscapeDataString(result.Error ?? "failed")}");
        // On to the next most urgent free item.
        var next = await NextFreeAsync(store, contentId).ConfigureAwait(false);
        var done = Uri.EscapeDataString($"{verdict} recorded for {contentId}");
        return Results.Redirect(next is null ? $"/?done={done}" : $"/items/{Uri.EscapeDataString(next.ContentId)}?done={done}");
    }

    private static async Task<IResult> Bulk(string contentId, HttpContext http, IAntiforgery af, VerdictService verdicts, CancellationToken ct)
    {
        if (!await af.IsRequestValidAsync(http).ConfigureAwait(false)) return BadForm();
        if (!UploadEventParser.IsValidId(contentId)) return Results.NotFound();
        var form = await http.Request.ReadFormAsync(ct).ConfigureAwait(false);
        string verdict = form["verdict"].ToString();
        string? note = form["note"].ToString() is { Length: > 0 } n ? n : null;
        string? bank = form["add_to_bank"] == "on" && form["bank"].ToString() is { Length: > 0 } b ? b : null;
        int done = 0, skipped = 0;
        foreach (var id in form["ids"].Where(i => i is not null && UploadEventParser.IsValidId(i)).Distinct().Take(ClusterScan))
        {
            var claim = await verdicts.ClaimAsync(id!, Name(http)).ConfigureAwait(false);
            var result = claim.IsOk ? await verdicts.VerdictAsync(id!, Name(http), new VerdictRequest(verdict, bank, note), ct, bulkOf: contentId).ConfigureAwait(false) : claim;
            if (result.IsOk) done++;
            else skipped++;
        }
        var message = Uri.EscapeDataString($"bulk {verdict}: {done} done, {skipped} skipped (claimed by others or decided)");
        return Results.Redirect($"/items/{Uri.EscapeDataString(contentId)}?done={message}");
    }

    private static async Task<IResult> Queue(HttpContext http, IAntiforgery af, ReviewStore store, ReviewOptions options)
    {
        var q = http.Request.Query;
        string source = q["source"].ToString(), claimed = q["claimed"].ToString(), search = q["q"].ToString();
        bool escalatedOnly = q["escalated"] == "1";
        double minPriority = double.TryParse(q["min_priority"], NumberStyles.Float, CultureInfo.InvariantCulture, out var mp) ? mp : 0;
        var (depth, oldest) = await store.DepthAsync().ConfigureAwait(false);
        var all = await store.ListAsync(ClusterScan, byPriority: true).ConfigureAwait(false);
        string me = Name(http);
        var shown = all.Where(i =>
                (source.Length == 0 || i.Item.Decision.Reasons.Any(r => r.Source == source))
                && (claimed switch { "mine" => i.ClaimedBy == me, "free" => i.ClaimedBy is null, "others" => i.ClaimedBy is not null && i.ClaimedBy != me, _ => true })
                && (!escalatedOnly || i.Item.Escalated)
                && i.Item.Priority >= minPriority
                && (search.Length == 0 || i.Item.ContentId.Contains(search, StringComparison.OrdinalIgnoreCase)))
            .OrderByDescending(i => i.Item.Priority).ThenBy(i => i.Item.QueuedAt).Take(QueuePageRows).ToList();
        var sb = new StringBuilder();
        if (q["done"].ToString() is { Length: > 0 } done) sb.Append("<p class=\"ok\">").Append(E(done)).Append("</p>");
        sb.Append("<p id=\"depth\">").Append(depth.ToString(CultureInfo.InvariantCulture)).Append(" waiting");
        if (oldest is { } o) sb.Append(", oldest queued ").Append(E(Age(DateTimeOffset.UtcNow - o))).Append(" ago");
        sb.Append(". Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> open.</p>");
        sb.Append("<form class=\"panel\" method=\"get\" action=\"/\">Signal <select name=\"source\">");
        foreach (var s in new[] { "", "bank", "model", "text", "uploader", "campaign", "fail-closed" })
            sb.Append("<option value=\"").Append(s).Append('"').Append(s == source ? " selected" : "").Append('>').Append(s.Length == 0 ? "any" : s).Append("</option>");
        sb.Append("</select> Claims <select name=\"claimed\">");
        foreach (var s in new[] { "any", "free", "mine", "others" })
            sb.Append("<option").Append(s == claimed ? " selected" : "").Append('>').Append(s).Append("</option>");
        sb.Append("</select> <label><input type=\"checkbox\" name=\"escalated\" value=\"1\"").Append(escalatedOnly ? " checked" : "").Append("> escalated only</label>")
          .Append(" Min priority <input name=\"min_priority\" size=\"4\" value=\"").Append(minPriority.ToString(CultureInfo.InvariantCulture)).Append("\">")
          .Append(" Content id <input name=\"q\" value=\"").Append(E(search)).Append("\"> <button>Filter</button></form>");
        sb.Append("<table id=\"queue\"><thead><tr><th>Priority</th><th>Content</th><th>Signals</th><th>Top score</th><th>Age</th><th>Claimed by</th></tr></thead><tbody>");
        var claimedIds = shown.Where(s => s.ClaimedBy is not null).Select(s => s.Item.ContentId).ToList();
        var left = claimedIds.Zip(await store.ClaimTimesLeftAsync(claimedIds).ConfigureAwait(false)).ToDictionary(p => p.First, p => p.Second);
        var now = DateTimeOffset.UtcNow;
        int late = shown.Count(s => now - s.Item.QueuedAt > options.AgeTarget);
        if (late > 0) sb.Append("<p class=\"error\" id=\"late\">").Append(late).Append(" shown waiting longer than the ").Append(E(Age(options.AgeTarget))).Append(" target.</p>");
        foreach (var (item, by) in shown)
        {
            string href = "/items/" + Uri.EscapeDataString(item.ContentId);
            sb.Append("<tr data-href=\"").Append(E(href)).Append('"').Append(now - item.QueuedAt > options.AgeTarget ? " class=\"late\"" : "").Append("><td>").Append(item.Priority.ToString("0.#", CultureInfo.InvariantCulture)).Append("</td><td><a href=\"")
              .Append(E(href)).Append("\">").Append(E(item.ContentId)).Append("</a></td><td>");
            if (item.Escalated) sb.Append("<span class=\"tag esc\">escalated</span>");
            foreach (var r in item.Decision.Reasons) sb.Append(ReasonTag(r));
            var top = ReviewPriority.TopHarm(item.Decision);
            sb.Append("</td><td>").Append(top is { } t ? $"{E(t.Key)} {t.Value:0.00}" : "").Append("</td><td>")
              .Append(E(Age(now - item.QueuedAt))).Append("</td><td>").Append(E(by))
              .Append(by is not null && left.GetValueOrDefault(item.ContentId) is { } l ? $" ({E(Age(l))} left)" : "").Append("</td></tr>");
        }
        sb.Append("</tbody></table>");
        if (shown.Count == 0) sb.Append("<p id=\"empty\">Nothing to review here.</p>");
        return Page(http, af, "Review queue", sb.ToString());
    }

    private static string ReasonTag(DecisionReason r) => r.Source switch
    {
        "bank" => $"<span class=\"tag bank\">bank {E(r.Bank)} d={r.Distance}</span>",
        "model" => $"<span class=\"tag model\">{E(r.Label)} {r.Score:0.00}</span>",
        "text" => $"<span class=\"tag text\">{E(r.Kind)} {E(r.Category)}</span>",
        "uploader" => $"<span class=\"tag\">uploader {E(r.Rule)} {r.Count}</span>",
        "campaign" => $"<span class=\"tag\">campaign {r.Uploaders} uploaders</span>",
        _ => $"<span class=\"tag\">{E(r.Source)} {E(r.Code)}</span>",
    };

    private static string Age(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{(int)t.TotalDays} d {t.Hours} h" : t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes} min" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes} min" : $"{Math.Max(0, (int)t.TotalSeconds)} s";

    private static async Task<IResult> Item(string contentId, HttpContext http, IAntiforgery af, VerdictService verdicts, ReviewStore store, CancellationToken ct)
    {
        if (!UploadEventParser.IsValidId(contentId)) return Page(http, af, "Not found", "<p>No such item.</p>", 404);
        var item = await verdicts.ItemAsync(contentId, ct).ConfigureAwait(false);
        var sb = new StringBuilder();
        if (http.Request.Query["error"].ToString() is { Length: > 0 } error) sb.Append("<p class=\"error\" id=\"error\">").Append(E(error)).Append("</p>");
        if (http.Request.Query["done"].ToString() is { Length: > 0 } done) sb.Append("<p class=\"ok\" id=\"done\">").Append(E(done)).Append("</p>");
        if (item is null)
        {
            var verdict = await store.GetVerdictAsync(contentId).ConfigureAwait(false);
            if (verdict is null) return Page(http, af, "Not found", sb + "<p>No such item in the queue.</p>", 404);
            sb.Append("<p id=\"decided\">Decided: <strong>").Append(E(verdict.Event.Verdict)).Append("</strong> by ").Append(E(verdict.Event.Reviewer))
              .Append(" at ").Append(verdict.Event.DecidedAt.ToString("u", CultureInfo.InvariantCulture)).Append(" (").Append(E(verdict.State)).Append(").</p>");
            return Page(http, af, contentId, sb.ToString());
        }
        var d = item.Decision;
        string me = Name(http);
        var holder = await store.ClaimedByAsync(contentId).ConfigureAwait(false);
        bool mine = holder == me;
        string path = "/items/" + Uri.EscapeDataString(contentId);

        sb.Append("<div class=\"row\"><div>");
        if (item.Upload is { HasMedia: true } || item.Upload is null && d.Pdq is not null)
        {
            bool video = item.Upload?.MediaType == MediaTypes.Video || d.Reasons.Any(r => r.FrameTimestampsMs is not null);
            sb.Append("<div id=\"media\" class=\"media blurred\">");
            sb.Append(video
                ? $"<video src=\"{E(path)}/media\" controls preload=\"metadata\" muted></video>"
                : $"<img src=\"{E(path)}/media\" alt=\"the item's media (blurred until revealed)\">");
            sb.Append("</div><p><button id=\"reveal\" type=\"button\">Reveal</button> <kbd>r</kbd> reveal greyscale, again for colour</p>");
            var stamps = d.Reasons.SelectMany(r => r.FrameTimestampsMs ?? []).Distinct().Order().ToList();
            if (stamps.Count > 0)
            {
                sb.Append("<p id=\"frames\">Frames that drove the decision: ");
                foreach (var ms in stamps) sb.Append("<button type=\"button\" data-seek=\"").Append(ms).Append("\">").Append((ms / 1000.0).ToString("0.0", CultureInfo.InvariantCulture)).Append(" s</button>");
                sb.Append("</p>");
            }
        }
        else sb.Append("<p>No media (a text item, or its upload record is no longer on the topic).</p>");
        foreach (var (field, text) in new[] { ("caption", item.Upload?.Caption), ("text", item.Upload?.Text) })
            if (text is not null)
                sb.Append("<div class=\"panel\"><strong>").Append(field).Append("</strong><p id=\"").Append(field).Append("\">").Append(Highlight(text, d.Reasons.Where(r => r.Source == "text" && r.Field == field))).Append("</p></div>");
        sb.Append("</div><div class=\"panel\">");
        sb.Append("<p>Priority ").Append(item.Priority.ToString("0.#", CultureInfo.InvariantCulture)).Append(item.Escalated ? $" · <span class=\"tag esc\">escalated by {E(item.EscalatedBy)}</span> {E(item.EscalationNote)}" : "")
          .Append("<br>Queued ").Append(E(Age(DateTimeOffset.UtcNow - item.QueuedAt))).Append(" ago · policy ").Append(E(d.PolicyVersion)).Append(" · model ").Append(E(d.ModelVersion ?? "none"))
          .Append("<br>Uploader ").Append(E(item.Upload?.UploaderId ?? "unknown")).Append("</p>");
        sb.Append("<h3>Reasons</h3><ul id=\"reasons\">");
        foreach (var r in d.Reasons) sb.Append("<li>").Append(ReasonTag(r)).Append(ReasonDetail(r)).Append("</li>");
        sb.Append("</ul>");
        if (d.Scores is { Count: > 0 } scores)
        {
            sb.Append("<h3>Scores</h3><table id=\"scores\">");
            foreach (var (k, v) in scores.OrderByDescending(s => s.Value)) sb.Append("<tr><td>").Append(E(k)).Append("</td><td>").Append(v.ToString("0.000", CultureInfo.InvariantCulture)).Append("</td></tr>");
            sb.Append("</table>");
        }
        if (d.Pdq is { } pdq) sb.Append("<p>PDQ <code>").Append(E(pdq.Hash)).Append("</code> quality ").Append(pdq.Quality).Append("</p>");

        sb.Append("<h3>Decide</h3><p id=\"claim-state\">").Append(holder is null ? "Not claimed." : mine ? "Claimed by you." : $"Claimed by {E(holder)}.").Append("</p>");
        if (!mine)
            sb.Append("<form method=\"post\" action=\"").Append(E(path)).Append("/claim\">").Append(Token(http, af))
              .Append("<button id=\"claim\"").Append(holder is null ? "" : " disabled").Append(">Claim</button> <kbd>c</kbd></form>");
        if (holder is not null && (mine || http.User.IsInRole(ReviewRoles.Admin)))
            sb.Append("<form method=\"post\" action=\"").Append(E(path)).Append("/release\">").Append(Token(http, af)).Append("<button id=\"release\">Release claim</button></form>");
        sb.Append("<form id=\"verdict\" method=\"post\" action=\"").Append(E(path)).Append("/verdict\">").Append(Token(http, af))
          .Append("<p><label>Note<br><textarea name=\"note\" id=\"note\" rows=\"3\" cols=\"40\" maxlength=\"").Append(VerdictEvent.MaxNoteChars).Append("\"></textarea></label></p>")
          .Append("<p><label><input type=\"checkbox\" name=\"add_to_bank\" id=\"add-to-bank\"").Append(d.Pdq is null && item.Upload is not { HasMedia: true } ? " disabled" : "").Append("> add to bank</label> ")
          .Append("<input name=\"bank\" id=\"bank\" value=\"reviewed\" size=\"16\" maxlength=\"64\"> (takedowns)</p>");
        string disabled = mine ? "" : " disabled";
        sb.Append("<button id=\"v-takedown\" name=\"verdict\" value=\"takedown\"").Append(disabled).Append(">Take down</button><kbd>t</kbd> ")
          .Append("<button id=\"v-allow\" name=\"verdict\" value=\"allow\"").Append(disabled).Append(">Allow</button><kbd>a</kbd> ")
          .Append("<button id=\"v-escalate\" name=\"verdict\" value=\"escalate\"").Append(disabled).Append(">Escalate</button><kbd>e</kbd></form>");
        sb.Append("</div></div>");

        if (d.Pdq is { } own && PdqHash.TryParse(own.Hash, out var hash))
        {
            var cluster = (await store.ListAsync(ClusterScan, byPriority: true).ConfigureAwait(false))
                .Where(i => i.Item.ContentId != contentId && i.Item.Decision.Pdq is { } p && PdqHash.TryParse(p.Hash, out var h) && PdqHash.Distance(hash, h) <= ClusterDistance)
                .ToList();
            if (cluster.Count > 0)
            {
                sb.Append("<div class=\"panel\" id=\"cluster\"><h3>Same picture: ").Append(cluster.Count).Append(" more queued (PDQ distance ≤ ").Append(ClusterDistance).Append(")</h3>")
                  .Append("<form method=\"post\" action=\"").Append(E(path)).Append("/bulk\">").Append(Token(http, af)).Append("<table>");
                foreach (var (other, by) in cluster)
                {
                    PdqHash.TryParse(other.Decision.Pdq!.Hash, out var oh);
                    sb.Append("<tr><td><input type=\"checkbox\" name=\"ids\" value=\"").Append(E(other.ContentId)).Append('"').Append(by is not null && by != me ? " disabled" : " checked")
                      .Append("></td><td><a href=\"/items/").Append(E(Uri.EscapeDataString(other.ContentId))).Append("\">").Append(E(other.ContentId)).Append("</a></td><td>distance ")
                      .Append(PdqHash.Distance(hash, oh)).Append("</td><td>").Append(E(by)).Append("</td></tr>");
                }
                sb.Append("</table><p>Note <input name=\"note\" maxlength=\"").Append(VerdictEvent.MaxNoteChars).Append("\"> <label><input type=\"checkbox\" name=\"add_to_bank\"> add to bank</label> ")
                  .Append("<input name=\"bank\" value=\"reviewed\" size=\"16\"></p><button id=\"bulk-takedown\" name=\"verdict\" value=\"takedown\">Take down selected</button> ")
                  .Append("<button id=\"bulk-allow\" name=\"verdict\" value=\"allow\">Allow selected</button></form></div>");
            }
        }
        var next = await NextFreeAsync(store, contentId).ConfigureAwait(false);
        if (next is not null) sb.Append("<p><a id=\"next\" href=\"/items/").Append(E(Uri.EscapeDataString(next.ContentId))).Append("\">Next free item</a> <kbd>n</kbd> · <kbd>q</kbd> queue</p>");
        return Page(http, af, contentId, sb.ToString());
    }

    /// <summary>The most urgent unclaimed item other than <paramref name="contentId"/> (among the 50 most urgent), or null.</summary>
    private static async Task<ReviewItem?> NextFreeAsync(ReviewStore store, string contentId) =>
        (await store.ListAsync(50, byPriority: true).ConfigureAwait(false)).FirstOrDefault(i => i.ClaimedBy is null && i.Item.ContentId != contentId).Item;

    private static string ReasonDetail(DecisionReason r)
    {
        var parts = new List<string>();
        if (r.MatchId is not null) parts.Add($"entry {E(r.MatchId)}");
        if (r.Threshold is { } t) parts.Add($"threshold {t:0.00}");
        if (r.FrameTimestampsMs is { Count: > 0 } f) parts.Add($"{f.Count} of {r.FramesSampled} frames");
        if (r.Window is not null) parts.Add($"window {E(r.Window)}");
        if (r.Similarity is { } s) parts.Add($"similarity {s:0.00}");
        if (r.Message is not null) parts.Add(E(r.Message));
        return parts.Count == 0 ? "" : " " + string.Join(" · ", parts);
    }

    /// <summary>The text with each match's span (UTF-16 offsets from the reasons) wrapped in <c>mark</c>, everything encoded.</summary>
    public static string Highlight(string text, IEnumerable<DecisionReason> matches)
    {
        var spans = matches.Where(m => m.Start is { } s && m.End is { } e && s >= 0 && e > s && e <= text.Length)
            .Select(m => (Start: m.Start!.Value, End: m.End!.Value)).OrderBy(s => s.Start).ToList();
        var sb = new StringBuilder();
        int at = 0;
        foreach (var (start, end) in spans)
        {
            if (start < at) continue; // overlapping: the first wins
            sb.Append(E(text[at..start])).Append("<mark>").Append(E(text[start..end])).Append("</mark>");
            at = end;
        }
        return sb.Append(E(text[at..])).ToString();
    }

    private static async Task<IResult> Audit(HttpContext http, IAntiforgery af, ReviewStore store)
    {
        var records = await store.AuditAsync(1000).ConfigureAwait(false);
        var sb = new StringBuilder("<table id=\"audit\"><thead><tr><th>When</th><th>Content</th><th>Verdict</th><th>Reviewer</th><th>Banked</th><th>Machine</th><th>Note</th></tr></thead><tbody>");
        foreach (var r in records)
            sb.Append("<tr><td>").Append(r.Event.DecidedAt.ToString("u", CultureInfo.InvariantCulture)).Append("</td><td>").Append(E(r.Event.ContentId)).Append("</td><td>")
              .Append(E(r.Event.Verdict)).Append(r.BulkOf is null ? "" : $" (bulk, with {E(r.BulkOf)})").Append("</td><td>").Append(E(r.Event.Reviewer)).Append("</td><td>")
              .Append(r.Event.Banked is { } b ? E($"{b.Bank}/{b.Id}") : "").Append("</td><td>").Append(string.Concat(r.Decision.Reasons.Select(ReasonTag))).Append("</td><td>")
              .Append(E(r.Event.Note)).Append("</td></tr>");
        sb.Append("</tbody></table>");
        return Page(http, af, "Audit: every verdict", sb.ToString());
    }

    private static async Task<IResult> Overturned(HttpContext http, IAntiforgery af, ReviewStore store)
    {
        var rows = await store.OverturnsAsync().ConfigureAwait(false);
        var sb = new StringBuilder("<p>How often reviewers allowed what a signal flagged, per model version and class.</p><table id=\"overturns\"><thead><tr><th>Model version</th><th>Class / signal</th><th>Reviewed</th><th>Overturned</th><th>Rate</th></tr></thead><tbody>");
        foreach (var r in rows)
            sb.Append("<tr><td>").Append(E(r.ModelVersion)).Append("</td><td>").Append(E(r.Class)).Append("</td><td>").Append(r.Reviewed).Append("</td><td>").Append(r.Overturned)
              .Append("</td><td>").Append(r.Rate.ToString("P1", CultureInfo.InvariantCulture)).Append("</td></tr>");
        sb.Append("</tbody></table>");
        return Page(http, af, "Overturns", sb.ToString());
    }
}
