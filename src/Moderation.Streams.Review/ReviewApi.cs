using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review;

/// <summary>The JSON API DESIGN.md fixes (HTTP Basic): <c>GET /api/queue</c> (<c>?limit=N&amp;offset=K</c>), <c>POST /api/items/{id}/claim</c>,
/// <c>POST /api/items/{id}/verdict</c>, <c>GET /api/items/{id}/media</c>; and beside them <c>GET /api/items/{id}</c>,
/// <c>POST /api/items/{id}/release</c>, <c>GET /api/audit</c> (admins) and <c>GET /api/overturns</c>.</summary>
public static class ReviewApi
{
    public const int DefaultQueueLimit = 100;

    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").RequireAuthorization(ReviewHost.ApiPolicy);
        api.MapGet("/queue", async (HttpContext http, ReviewStore store, ReviewOptions options) =>
        {
            var limitText = http.Request.Query["limit"].ToString();
            int limit = DefaultQueueLimit;
            if (limitText.Length > 0 && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1))
                return Error(400, "limit must be a positive integer");
            limit = Math.Min(limit, options.MaxQueueLimit);
            var offsetText = http.Request.Query["offset"].ToString();
            int offset = 0;
            if (offsetText.Length > 0 && (!int.TryParse(offsetText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out offset) || offset < 0))
                return Error(400, "offset must be a non-negative integer");
            var items = await store.ListAsync(limit, offset: offset).ConfigureAwait(false);
            return Json(200, items.Select(i => QueueEntry.Of(i.Item, i.ClaimedBy)).ToList());
        });
        api.MapGet("/items/{contentId}", async (string contentId, VerdictService verdicts, ReviewStore store, CancellationToken ct) =>
        {
            if (!UploadEventParser.IsValidId(contentId)) return Error(404, "no such item");
            var item = await verdicts.ItemAsync(contentId, ct).ConfigureAwait(false);
            if (item is null)
                return await store.GetVerdictAsync(contentId).ConfigureAwait(false) is { } done
                    ? Json(200, new { content_id = contentId, verdict = done.Event, state = done.State })
                    : Error(404, "no such item");
            return Json(200, QueueEntry.Of(item, await store.ClaimedByAsync(contentId).ConfigureAwait(false)));
        });
        api.MapPost("/items/{contentId}/claim", async (string contentId, ClaimsPrincipal user, VerdictService verdicts) =>
            !UploadEventParser.IsValidId(contentId) ? Error(404, "no such item") : From(await verdicts.ClaimAsync(contentId, user.Identity!.Name!).ConfigureAwait(false)));
        api.MapPost("/items/{contentId}/release", async (string contentId, ClaimsPrincipal user, VerdictService verdicts) =>
            !UploadEventParser.IsValidId(contentId) ? Error(404, "no such item")
                : From(await verdicts.ReleaseAsync(contentId, user.Identity!.Name!, user.IsInRole(ReviewRoles.Admin)).ConfigureAwait(false)));
        api.MapPost("/items/{contentId}/verdict", async (string contentId, HttpContext http, ClaimsPrincipal user, VerdictService verdicts, CancellationToken ct) =>
        {
            if (!UploadEventParser.IsValidId(contentId)) return Error(404, "no such item");
            // JSON only: a cross-site form can send text/plain that parses as JSON, never application/json.
            if (!http.Request.HasJsonContentType()) return Error(415, "the body must be application/json");
            VerdictRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync<VerdictRequest>(http.Request.Body, ContractJson.Options, ct).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Error(400, $"the body is not a verdict: {SafeText.Escape(e.Message, 200)}");
            }
            if (request is null) return Error(400, "the body is not a verdict: {\"verdict\":\"takedown|allow\",\"bank\":NAME|null,\"note\":…}");
            return From(await verdicts.VerdictAsync(contentId, user.Identity!.Name!, request, ct).ConfigureAwait(false));
        });
        api.MapGet("/items/{contentId}/media", async (string contentId, HttpContext http, MediaService media, CancellationToken ct) =>
            !UploadEventParser.IsValidId(contentId) ? Error(404, "no such item") : await media.ServeAsync(contentId, http, ct).ConfigureAwait(false));
        api.MapGet("/audit", async (HttpContext http, ReviewStore store) =>
        {
            int limit = int.TryParse(http.Request.Query["limit"], out var l) && l > 0 ? Math.Min(l, ReviewStore.AuditCap) : 100;
            return Json(200, (await store.AuditAsync(limit).ConfigureAwait(false)).Select(r => r.Event).ToList());
        }).RequireAuthorization(ReviewHost.AdminPolicy);
        api.MapGet("/overturns", async (ReviewStore store) =>
            Json(200, (await store.OverturnsAsync().ConfigureAwait(false)).Select(r => new
            {
                model_version = r.ModelVersion, @class = r.Class, reviewed = r.Reviewed, overturned = r.Overturned, rate = Math.Round(r.Rate, 4),
            }).ToList()));
    }

    public static IResult From(ReviewResult result) =>
        result.IsOk ? Json(200, result.Value) : Json(result.Status, result.Value is null ? new { error = result.Error } : Merge(result.Error!, result.Value));

    private static Dictionary<string, object?> Merge(string error, object value)
    {
        var fields = JsonSerializer.SerializeToElement(value, ContractJson.Options).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        fields["error"] = error;
        return fields;
    }

    public static IResult Error(int status, string error) => Json(status, new { error });

    public static IResult Json(int status, object? value) => Results.Json(value, ContractJson.Options, statusCode: status);
}
