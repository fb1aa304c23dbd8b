using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Worker;

/// <summary>
/// The policy's <c>uploaders</c> rules over a content decision: counts the upload in the shared counters (once per
/// content id), applies <see cref="Decider.ForUploader"/>, and records a takedown as a strike for its uploader. It runs
/// after the screener, so the decision cache only ever holds what the content earned. A store that is down costs one
/// throttled log line and a fail-closed review (as <c>Banks:WhenUnavailable</c> says), never a stalled upload.
/// </summary>
public sealed class UploaderRules
{
    /// <summary>PDQ hashes below this quality are not used for campaigns (the contract discards them for banks too).</summary>
    public const int MinCampaignQuality = 50;

    private readonly IUploaderState? _state;
    private readonly bool _failClosed;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;

    /// <param name="state">The shared counters; null when no store is configured (a policy with rules then fails closed).</param>
    /// <param name="failClosed">While the counters cannot be used, an allow becomes a review.</param>
    public UploaderRules(IUploaderState? state, bool failClosed, ILogger logger, TimeProvider? time = null)
    {
        _state = state;
        _failClosed = failClosed;
        _logger = logger;
        _throttle = new LogThrottle(TimeSpan.FromSeconds(30), time);
    }

    /// <summary>Uploader rules switched off: every decision passes unchanged. A replay uses it: the counters describe the
    /// uploaders now, not when the history was uploaded, and a replay must never add to them.</summary>
    public static UploaderRules Off { get; } = new(null, false, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) { IsOff = true };

    private bool IsOff { get; init; }

    public async Task<DecisionEvent> ApplyAsync(Policy policy, UploadEvent upload, DecisionEvent decision, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(upload);
        ArgumentNullException.ThrowIfNull(decision);
        if (IsOff || policy.Uploaders is not { } rules) return decision;
        UploaderSignal signal;
        using (var span = Stages.Start("uploader signals"))
        {
            if (_state is null)
            {
                signal = UploaderSignal.Unavailable;
                Warn("no-store", "The policy has uploader rules but no Redis is configured: they cannot be counted");
            }
            else
            {
                string? pdq = decision.Pdq is { Quality: >= MinCampaignQuality } hash ? hash.Hash : null;
                try
                {
                    signal = await _state.CountAsync(new UploaderCount(decision.ContentId, upload.UploaderId, pdq, rules), ct).ConfigureAwait(false);
                }
                catch (StoreUnavailableException e)
                {
                    signal = UploaderSignal.Unavailable;
                    Warn("count", $"Uploader counters unavailable: {e.Message}");
                }
            }
            span?.SetTag("moderation.uploader.available", !signal.IsUnavailable);
        }
        var decided = Decider.ForUploader(policy, decision, signal, _failClosed);
        foreach (var reason in decided.Reasons.Skip(decision.Reasons.Count))
            WorkerTelemetry.UploaderRulesFired.Add(1, new KeyValuePair<string, object?>("rule", reason.Rule ?? reason.Code ?? reason.Source));
        if (decided.Action == Actions.Takedown && upload.UploaderId is { } uploader && rules.Strikes is { } strikes && _state is not null)
        {
            try
            {
                await _state.RecordStrikeAsync(uploader, decision.ContentId, strikes.Span, ct).ConfigureAwait(false);
            }
            catch (StoreUnavailableException e)
            {
                WorkerTelemetry.UploaderRulesFired.Add(1, new KeyValuePair<string, object?>("rule", "strike-not-recorded"));
                Warn("strike", $"A strike for uploader {uploader} was not recorded: {e.Message}"); // ids are [A-Za-z0-9._:-]
            }
        }
        return decided;
    }

    private void Warn(string kind, string message)
    {
        if (_throttle.ShouldLog(kind, out long suppressed))
            _logger.LogWarning("{Message} ({Suppressed} more since the last line)", message, suppressed);
    }
}
