using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Moderation.Streams.Worker;

/// <summary>Telemetry settings (configuration section <c>Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>Port of <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> (<c>--telemetry-port</c>); 0 picks a free port,
    /// -1 serves none. The <c>worker</c> verb defaults to 9464; a host embedded in another process to 0.</summary>
    public int? Port { get; set; }

    public const int DefaultPort = 9464;

    /// <summary>Address the endpoints bind to: <c>0.0.0.0</c> every interface (IPv4 and IPv6), <c>127.0.0.1</c> or <c>::1</c> this
    /// host only, or one interface's address.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>OTLP endpoint for traces, metrics and logs (or the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>); none = no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    public string ServiceName { get; set; } = "moderation-worker";
}

/// <summary>
/// OpenTelemetry for the worker: its one <see cref="ActivitySource"/> (the screening pipeline's spans) and one
/// <see cref="Meter"/> with every instrument of this component; the host's wiring (traces, metrics of every component
/// through <see cref="ModerationTelemetry"/>, Prometheus scrape endpoint and OTLP, logs over OTLP) and its
/// health checks. Durations are histograms in seconds (OpenTelemetry semantic conventions).
/// </summary>
public static class WorkerTelemetry
{
    public const string MeterName = "Moderation.Streams.Worker";
    public const string ActivitySourceName = "Moderation.Streams.Worker";

    /// <summary>The runtime's built-in meter (<c>dotnet.gc.last_collection.heap.size</c>, <c>dotnet.process.memory.working_set</c>, …), also exported.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    /// <summary>Counter of published decisions, tagged <c>action</c>, <c>cached</c>, <c>reason</c>.</summary>
    public const string DecisionsCounter = "moderation.decisions";

    /// <summary>Counter of DLQ records, tagged <c>code</c>: counted by the consume loop for every DLQ record, whatever
    /// wrote it (<see cref="Kafka.KafkaTelemetry.DeadLetterCounter"/>, on the Kafka meter).</summary>
    public const string DlqCounter = Kafka.KafkaTelemetry.DeadLetterCounter;

    /// <summary>Histogram (s) of the time from an upload consumed to its decision made.</summary>
    public const string DecisionDurationHistogram = "moderation.decision.duration";

    /// <summary>Counter of the shadow model's would-be decisions, tagged <c>agreement</c>, <c>live_action</c>, <c>shadow_action</c>.</summary>
    public const string ShadowDecisionsCounter = "moderation.shadow.decisions";

    /// <summary>Counter of would-have-matched records of banks tried on a share of uploads (policy <c>enabled</c>), tagged
    /// <c>live_action</c> and <c>trial_action</c>.</summary>
    public const string BankTrialsCounter = "moderation.bank.trials";

    /// <summary>Counter of bank entries quarantined by flood control, by <c>bank</c>.</summary>
    public const string BankQuarantinedCounter = "moderation.bank.quarantined";

    /// <summary>Counter of uploader and campaign rules that fired, by <c>rule</c>.</summary>
    public const string UploaderRulesCounter = "moderation.uploader.rules";

    /// <summary>Histogram of frames sampled per screened video or animation.</summary>
    public const string VideoFramesHistogram = "moderation.video.frames";

    /// <summary>Histogram (s) of ffprobe + ffmpeg sampling time per video.</summary>
    public const string VideoDecodeDurationHistogram = "moderation.video.decode.duration";

    /// <summary>Counter of captions and text items checked against the text banks, tagged <c>field</c> (caption|text) and
    /// <c>outcome</c> (matched, clean, or unavailable: the banks could not be trusted and the text failed closed).</summary>
    public const string TextScreenedCounter = "moderation.text.screened";

    /// <summary>Counter of text bank matches, tagged <c>field</c> and <c>kind</c> (term|domain|text).</summary>
    public const string TextMatchesCounter = "moderation.text.matches";

    /// <summary>Bucket boundaries (seconds) of an upload's screening time: the same as <c>messaging.process.duration</c>'s.</summary>
    private static readonly double[] UploadDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Bucket boundaries (seconds) of a video's decode: up to <c>Media:Video:MaxFrames</c> frames of a long video.</summary>
    private static readonly double[] VideoDecodeBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    internal static readonly ActivitySource Source = new(ActivitySourceName);
    internal static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Decisions = Meter.CreateCounter<long>(DecisionsCounter, description: "Decisions published, by action");
    internal static readonly Histogram<double> DecisionDuration = Meter.CreateHistogram<double>(DecisionDurationHistogram, "s", "Upload consumed to decision made",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = UploadDurationBuckets });
    internal static readonly Counter<long> ShadowDecisionsMade = Meter.CreateCounter<long>(ShadowDecisionsCounter,
        description: "Shadow model would-be decisions, by agreement with the live decision, live action and shadow action");
    internal static readonly Counter<long> BankTrials = Meter.CreateCounter<long>(BankTrialsCounter,
        description: "Bank matches left out by the bank's enabled share, recorded on the shadow topic, by live action and the action had the bank acted");
    internal static readonly Counter<long> BankEntriesQuarantined = Meter.CreateCounter<long>(BankQuarantinedCounter,
        description: "Bank entries quarantined for matching too many uploads (policy bank_floods), by bank");
    internal static readonly Counter<long> UploaderRulesFired = Meter.CreateCounter<long>(UploaderRulesCounter,
        description: "Uploader and campaign rules that fired on a decision, by rule (strikes, velocity, campaign, uploader-signals-unavailable, strike-not-recorded)");
    internal static readonly Counter<long> TextScreened = Meter.CreateCounter<long>(TextScreenedCounter, "{text}", "Captions and text items checked against the text banks, by field and outcome");
    internal static readonly Counter<long> TextMatches = Meter.CreateCounter<long>(TextMatchesCounter, "{match}", "Text bank matches, by field and kind");
    internal static readonly Histogram<long> VideoFrames = Meter.CreateHistogram<long>(VideoFramesHistogram, "{frame}", "Frames sampled per screened video");
    internal static readonly Histogram<double> VideoDecodeDuration = Meter.CreateHistogram<double>(VideoDecodeDurationHistogram, "s", "ffprobe + ffmpeg sampling time per video",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = VideoDecodeBuckets });

    public static void Add(WebApplicationBuilder builder, int defaultPort)
    {
        var options = builder.Configuration.GetSection("Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        int port = options.Port ?? defaultPort;
        var otlp = options.OtlpEndpoint ?? builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName))
            .WithTracing(t =>
            {
                t.AddModerationTelemetry();
                if (otlp is { Length: > 0 }) t.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            })
            .WithMetrics(m =>
            {
                m.AddModerationTelemetry();
                // .NET's own runtime meter: GC heap sizes, working set, allocation, thread pool (dotnet_* in /metrics;
                // bench soak samples the heap from it).
                m.AddMeter(RuntimeMeterName);
                m.AddPrometheusExporter();
                if (otlp is { Length: > 0 }) m.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            });
        if (otlp is { Length: > 0 })
            telemetry.WithLogging(l => l.AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));
        WorkerHealthChecks.Add(builder);

        if (port < 0)
        {
            builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "");
            builder.Services.AddSingleton<IServer, NoServer>();
        }
        else
        {
            builder.WebHost.UseUrls($"http://{(options.BindAddress == "0.0.0.0" ? "*" : options.BindAddress)}:{port}");
        }
    }

    public static void MapEndpoints(WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        WorkerHealthChecks.Map(app);
    }

    /// <summary>The address the endpoints listen on (after start; null when none).</summary>
    public static Uri? ListeningOn(IHost host)
    {
        var addresses = host.Services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault();
        return first is null ? null : new Uri(first.Replace("://[::]", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1").Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1"));
    }

    /// <summary>A server that serves nothing, for <c>Telemetry:Port = -1</c>.</summary>
    private sealed class NoServer : IServer
    {
        public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }
}

/// <summary>What <c>/readyz</c> reports.</summary>
/// <param name="FailedChecks">The start checks that failed (one <c>moderation doctor</c> line each, with its fix); null when none did.</param>
public sealed record WorkerHealth(bool Ready, string Status, string? Model, string? Device, string? DeviceNote, string Kafka, string Redis, int AssignedPartitions, int InFlight,
    IReadOnlyList<string>? FailedChecks = null);
