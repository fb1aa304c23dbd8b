using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Review;
using OpenTelemetry.Metrics;

namespace Moderation.Streams.Deploy.Tests.Prometheus;

/// <summary>
/// Every <c>moderation_review_*</c> name the Grafana dashboard and the alert rules query is one the review console
/// exports: its meter (<see cref="ReviewTelemetry"/>) behind the same OpenTelemetry Prometheus exporter as
/// <c>ReviewHost</c>, each instrument recorded once, scraped over HTTP. (The worker's names are checked the same way
/// against a running worker in Worker.Tests, TelemetryTests.)
/// </summary>
public sealed partial class ReviewMetricNamesTests
{
    [GeneratedRegex(@"\bmoderation_review_[a-z_]+\b")]
    private static partial Regex ReviewName();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HashSet<string>> ExportedNames()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Services.AddSingleton<ReviewTelemetry>();
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(ReviewTelemetry.MeterName).AddPrometheusExporter());
        await using var app = builder.Build();
        app.MapPrometheusScrapingEndpoint("/metrics");
        await app.StartAsync(Ct);
        var telemetry = app.Services.GetRequiredService<ReviewTelemetry>();
        telemetry.Verdict("alice", "allow", overturned: true, TimeSpan.FromSeconds(42));
        telemetry.Verdict("bob", "takedown", overturned: false, TimeSpan.FromSeconds(7));
        telemetry.Queued();
        telemetry.Invalid();
        telemetry.LoginFailed("form");
        telemetry.Observe(12, TimeSpan.FromHours(5));

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        var text = await http.GetStringAsync("/metrics", Ct);
        await app.StopAsync(Ct);
        // The gauges are read at scrape time: 5 hours, in seconds.
        var oldest = Regex.Match(text, @"(?m)^moderation_review_queue_oldest_age_seconds(\{[^}]*\})? (\S+)");
        Assert.True(oldest.Success, text);
        Assert.Equal(18000, double.Parse(oldest.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        return text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('{', ' ')[0]).ToHashSet();
    }

    [Fact]
    public async Task Every_review_metric_the_dashboard_and_the_rules_query_is_exported_by_the_console()
    {
        var exported = await ExportedNames();
        var queries = File.ReadAllText(Path.Combine(RepoPaths.Deploy, "grafana", "dashboards", "moderation-streams.json"))
            + File.ReadAllText(Path.Combine(RepoPaths.Deploy, "prometheus", "alerts.yml"));
        var referenced = ReviewName().Matches(queries).Select(m => m.Value).ToHashSet();
        // The panels the brief names and the stale-queue alert are there to be checked.
        foreach (var needed in new[] { "moderation_review_queue_depth", "moderation_review_queue_oldest_age_seconds", "moderation_review_verdicts_total",
                     "moderation_review_overturns_total", "moderation_review_claim_to_verdict_duration_seconds_bucket", "moderation_review_login_failures_total" })
            Assert.Contains(needed, referenced);
        Assert.All(referenced, name => Assert.Contains(name, exported));
    }
}
