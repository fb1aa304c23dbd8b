using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Review;

/// <summary>
/// Claims, verdicts and escalations. A verdict is written to Redis as <c>pending</c> (only while the caller holds the
/// claim, and only once), then its side effects run: the hash into the bank, the strike against the uploader, the two
/// records to Kafka; then it is marked done. Every step is idempotent, and a pending verdict left by a crash or a broker
/// outage is finished by <see cref="RecoverAsync"/> (at start, then every <see cref="RecoveryInterval"/>), which first reads
/// the topics for the records already published. So each claim yields exactly one verdict and one decision.
/// </summary>
public sealed class VerdictService : BackgroundService
{
    public static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(5);

    private readonly ReviewStore _store;
    private readonly RedisBankStore _banks;
    private readonly IUploaderState? _uploaders;
    private readonly Moderation.Streams.Redis.IDecisionCache? _cache;
    private readonly Moderation.Streams.Redis.DigestBanks.RedisDigestBankStore? _digests;
    private readonly Moderation.Streams.Media.MediaReader? _media;
    private readonly VerdictPublisher _publisher;
    private readonly UploadLookup _lookup;
    private readonly ReviewOptions _options;
    private readonly ReviewTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly string _instance;
    private readonly ConcurrentDictionary<string, byte> _inFlight = new();
    private readonly ConcurrentDictionary<(string, string), DateTimeOffset> _claimedAt = new();

    public VerdictService(ReviewStore store, RedisBankStore banks, IUploaderState? uploaders, VerdictPublisher publisher, UploadLookup lookup,
        ReviewOptions options, ReviewTelemetry telemetry, ILogger<VerdictService> log, Moderation.Streams.Redis.IDecisionCache? cache = null, TimeProvider? time = null,
        Moderation.Streams.Redis.DigestBanks.RedisDigestBankStore? digests = null, Moderation.Streams.Media.MediaReader? media = null)
    {
        _cache = cache;
        _digests = digests;
        _media = media;
        _store = store;
        _banks = banks;
        _uploaders = uploaders;
        _publisher = publisher;
        _lookup = lookup;
        _options = options;
        _telemetry = telemetry;
        _log = log;
        _time = time ?? TimeProvider.System;
        _instance = string.IsNullOrWhiteSpace(options.InstanceId) ? Environment.MachineName : options.InstanceId;
    }

    /// <summary>Test hook: runs after a verdict is pending and its bank entry written, before anything is published
    /// (a crash here is the "killed mid-verdict" case).</summary>
    internal Func<VerdictRecord, Task>? BeforePublish { get; set; }

    public async Task<ReviewResult> ClaimAsync(string contentId, string reviewer)
    {
        var outcome = await _store.ClaimAsync(contentId, reviewer, _options.ClaimTtl).ConfigureAwait(false);
        if (outcome.Status == ClaimStatus.Ok) _claimedAt.TryAdd((contentId, reviewer), _time.GetUtcNow());
        return outcome.Status switch
        {
            ClaimStatus.Ok => ReviewResult.Ok(new { content_id = contentId, claimed_by = reviewer, expires_in_s = (int)_options.ClaimTtl.TotalSeconds }),
            ClaimStatus.NotFound => ReviewResult.NotFound("no such item in the queue"),
            ClaimStatus.AlreadyDecided => ReviewResult.Conflict("the item has a verdict already"),
            _ => ReviewResult.Conflict($"claimed by {outcome.Holder}", new { content_id = contentId, claimed_by = outcome.Holder }),
        };
    }

    public async Task<ReviewResult> ReleaseAsync(string contentId, string reviewer, bool admin)
    {
        var outcome = await _store.ReleaseAsync(contentId, reviewer, force: admin).ConfigureAwait(false);
        return outcome.Status switch
        {
            ClaimStatus.Ok => ReviewResult.Ok(new { content_id = contentId, released = outcome.Holder }),
            ClaimStatus.NotHeld => ReviewResult.Ok(new { content_id = contentId, released = (string?)null }),
            _ => ReviewResult.Conflict($"claimed by {outcome.Holder}"),
        };
    }

    /// <summary>The item with what is known of its upload (read back from the uploads topic once, then kept with the item).</summary>
    public async Task<ReviewItem?> ItemAsync(string contentId, CancellationToken ct)
    {
        var item = await _store.GetItemAsync(contentId).ConfigureAwait(false);
        if (item is null || item.Upload is not null) return item;
        var upload = await _lookup.FindAsync(item.Decision, ct).ConfigureAwait(false);
        if (upload is null) return item;
        item = item with { Upload = new UploadDetails(upload.MediaType, upload.UploaderId, upload.Caption, upload.Text, upload.Media is not null, upload.Surface) };
        await _store.UpdateItemAsync(item).ConfigureAwait(false);
        return item;
    }

    public async Task<ReviewResult> VerdictAsync(string contentId, string reviewer, VerdictRequest request, CancellationToken ct, string? bulkOf = null)
    {
        if (!VerdictEvent.IsVerdict(request.Verdict)) return ReviewResult.Bad("verdict must be \"takedown\" or \"allow\"");
        string? bank = string.IsNullOrEmpty(request.Bank) ? null : request.Bank;
        if (bank is not null && request.Verdict != Actions.Takedown) return ReviewResult.Bad("only a takedown can add the item to a bank");
        if (bank is not null && !BankNames.IsValid(bank)) return ReviewResult.Bad("bank: not a valid bank name");
        if (request.Note is { Length: > VerdictEvent.MaxNoteChars }) return ReviewResult.Bad($"note: at most {VerdictEvent.MaxNoteChars} characters");

        var item = await ItemAsync(contentId, ct).ConfigureAwait(false);
        if (item is null)
            return await _store.GetVerdictAsync(contentId).ConfigureAwait(false) is null
                ? ReviewResult.NotFound("no such item in the queue")
                : ReviewResult.Conflict("the item has a verdict already");
        BankedDigest? digest = null;
        if (bank is not null && item.Decision.Pdq is null)
        {
            // Media that could not be hashed (undecodable, unsupported) is banked by the exact digest of its bytes, which
            // workers match before decoding; a text item has nothing to bank.
            var found = await DigestForBankAsync(item, bank, ct).ConfigureAwait(false);
            if (found.Error is { } error) return ReviewResult.Bad(error);
            digest = found.Digest;
        }

        IReadOnlyDictionary<string, long> scanFrom;
        try
        {
            scanFrom = await Task.Run(() => _publisher.EndOffsets(request.Verdict!), ct).ConfigureAwait(false);
        }
        catch (Confluent.Kafka.KafkaException e)
        {
            return ReviewResult.Unavailable($"the broker is not answering ({SafeText.Escape(e.Error.Reason, 200)}); nothing was recorded, try again");
        }
        var now = _time.GetUtcNow();
        var record = new VerdictRecord
        {
            ScanFrom = scanFrom,
            VerdictId = Guid.NewGuid().ToString("N"),
            State = VerdictRecord.Pending,
            StartedAt = now,
            Decision = item.Decision,
            UploaderId = item.Upload?.UploaderId,
            Upload = item.Upload,
            Digest = digest,
            BulkOf = bulkOf,
            Event = new VerdictEvent
            {
                ContentId = contentId, Verdict = request.Verdict!, Reviewer = reviewer, Note = request.Note,
                Banked = bank is null ? null : new BankedEntry(bank, contentId),
                DecidedAt = now,
                ReviewOf = new ReviewOf(item.Decision.PolicyVersion, item.Decision.ModelVersion),
            },
        };
        if (!_inFlight.TryAdd(contentId, 0)) return ReviewResult.Conflict("a verdict on this item is being recorded");
        try
        {
            return await BeginAndFinishAsync(record, reviewer, now, ct).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(contentId, out _);
        }
    }

    private async Task<ReviewResult> BeginAndFinishAsync(VerdictRecord record, string reviewer, DateTimeOffset now, CancellationToken ct)
    {
        string contentId = record.Event.ContentId;
        var begun = await _store.BeginVerdictAsync(contentId, reviewer, record, _instance, PublishLockTtl).ConfigureAwait(false);
        switch (begun.Status)
        {
            case ClaimStatus.Ok: break;
            case ClaimStatus.NotFound: return ReviewResult.NotFound("no such item in the queue");
            case ClaimStatus.AlreadyDecided: return ReviewResult.Conflict("the item has a verdict already");
            case ClaimStatus.NotHeld: return ReviewResult.Conflict("claim the item first (or the claim expired)");
            default: return ReviewResult.Conflict($"claimed by {begun.Holder}", new { content_id = contentId, claimed_by = begun.Holder });
        }
        _claimedAt.TryRemove((contentId, reviewer), out var claimedAt);
        try
        {
            await FinishAsync(record, new PublishedParts(false, false), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _log.LogWarning("verdict on {ContentId} recorded but not yet published ({Reason}); it will be published by the recovery loop", contentId, e.Message);
            await _store.UnlockPublishingAsync(contentId, _instance).ConfigureAwait(false);
            return ReviewResult.Unavailable($"the verdict is recorded; finishing it failed ({SafeText.Escape(e.Message, 200)}) and is retried in the background");
        }
        _telemetry.Verdict(reviewer, record.Event.Verdict, record.Event.Verdict == Actions.Allow, claimedAt == default ? null : now - claimedAt);
        return ReviewResult.Ok(record.Event);
    }

    /// <summary>
    /// Puts the verdict where the workers' decision cache would find the machine decision (PDQ hash, policy version,
    /// model version), so an exact re-upload of the picture gets the reviewer's decision (marked cached) instead of going
    /// to review again. Only when the picture alone drove the decision: a still image without a surface override, whose
    /// every reason is the model's (a caption, a bank or an uploader signal travels with one upload, not with its pixels;
    /// the worker would not cache those either). A store that does not answer only costs the shortcut.
    /// </summary>
    private async Task CacheVerdictAsync(VerdictRecord record, CancellationToken ct)
    {
        var d = record.Decision;
        if (_cache is null || d.Pdq is not { } pdq || d.ModelVersion is not { Length: > 0 } model || record.Upload is not { MediaType: MediaTypes.Image, Surface: null }
            || d.Reasons.Count == 0 || d.Reasons.Any(r => r.Source != "model") || d.PolicyVersion.Contains('|'))
            return;
        var final = VerdictPublisher.FinalDecision(record);
        try
        {
            await _cache.SetAsync(new Moderation.Streams.Redis.DecisionCacheKey(pdq.Hash, d.PolicyVersion, model),
                new Moderation.Streams.Redis.CachedDecision(final.Action, System.Text.Encoding.UTF8.GetString(final.ToUtf8Json()), final.DecidedAt), ct).ConfigureAwait(false);
        }
        catch (Moderation.Streams.Redis.StoreUnavailableException e)
        {
            _log.LogWarning("verdict on {ContentId} not put in the decision cache ({Reason}); re-uploads go to review as before", record.Event.ContentId, e.Message);
        }
    }

    /// <summary>The digest of an item's media for a digest bank named <paramref name="bank"/> (its kind when it exists,
    /// else SHA-256), or why there is none.</summary>
    private async Task<(BankedDigest? Digest, string? Error)> DigestForBankAsync(ReviewItem item, string bank, CancellationToken ct)
    {
        if (_digests is null || _media is null) return (null, "the item has no PDQ hash to bank");
        var upload = await _lookup.FindAsync(item.Decision, ct).ConfigureAwait(false);
        if (upload?.Media is not { } media) return (null, "the item has no media to bank (a text item, or its upload record is gone)");
        byte[] bytes;
        try
        {
            bytes = await _media.ReadAsync(media, ct).ConfigureAwait(false);
        }
        catch (ModerationException x)
        {
            return (null, $"the item's media cannot be read to bank it ({x.Code})");
        }
        string kind = await _digests.KindOfAsync(bank).ConfigureAwait(false) ?? Moderation.Streams.Hashing.Banks.DigestKinds.Sha256;
        return (new BankedDigest(kind, Moderation.Streams.Hashing.Banks.DigestKinds.Compute(kind, bytes)), null);
    }

    /// <summary>The window strikes are kept for: the workers' policy's (<c>uploaders.strikes.window</c>, when
    /// <c>Screening:PolicyFile</c> names a readable policy), else <see cref="ReviewOptions.StrikeWindow"/>. A shorter window
    /// here than the workers' would trim strikes they still count.</summary>
    public TimeSpan StrikeWindow()
    {
        if (_options.PolicyFile is { Length: > 0 } file)
        {
            try
            {
                var policy = PolicyFile.Parse(PolicyFile.ReadFile(file), file);
                if (policy.Uploaders?.Strikes is { } strikes) return TimeSpan.FromTicks(Math.Max(strikes.Span.Ticks, _options.StrikeWindow.Ticks));
            }
            catch (Exception x) when (x is IOException or UnauthorizedAccessException or InvalidDataException or FormatException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException)
            {
                _log.LogWarning("the policy {File} could not be read for its strikes window ({Reason}); using Review:StrikeWindow", file, x.Message);
            }
        }
        return _options.StrikeWindow;
    }

    /// <summary>The publishing lock's life: longer than a publish may take (the producer's <c>message.timeout.ms</c>).</summary>
    public TimeSpan PublishLockTtl => _options.PublishLockTtl;

    private async Task FinishAsync(VerdictRecord record, PublishedParts published, CancellationToken ct)
    {
        var e = record.Event;
        if (e.Banked is { } banked && record.Decision.Pdq is { } pdq && PdqHash.TryParse(pdq.Hash, out var hash))
        {
            await _banks.ImportAsync(banked.Bank,
                [new BankEntry(banked.Bank, banked.Id, hash, pdq.Quality, $"review:{e.Verdict}", $"review:{e.Reviewer}", e.DecidedAt)]).ConfigureAwait(false);
        }
        if (e.Banked is { } digestBank && record.Digest is { } digest && _digests is not null)
        {
            await _digests.ImportAsync(digestBank.Bank, digest.Kind,
                [new Moderation.Streams.Hashing.Banks.DigestEntry(digestBank.Bank, digest.Kind, digestBank.Id, digest.Hex, $"review:{e.Verdict}", $"review:{e.Reviewer}", e.DecidedAt)]).ConfigureAwait(false);
        }
        if (e.Verdict == Actions.Takedown && record.UploaderId is { } uploader && _uploaders is not null)
            await _uploaders.RecordStrikeAsync(uploader, e.ContentId, StrikeWindow(), ct).ConfigureAwait(false);
        await CacheVerdictAsync(record, ct).ConfigureAwait(false);
        if (BeforePublish is { } hook) await hook(record).ConfigureAwait(false);
        await _publisher.PublishAsync(record, published, ct).ConfigureAwait(false);
        await _store.CompleteVerdictAsync(record).ConfigureAwait(false);
        await _store.UnlockPublishingAsync(e.ContentId, _instance).ConfigureAwait(false);
    }

    /// <summary>Finishes every pending verdict no other process is publishing: reads the topics for what each already
    /// published, publishes the rest, marks them done. Returns how many it finished.</summary>
    public async Task<int> RecoverAsync(CancellationToken ct)
    {
        var pending = await _store.PendingAsync().ConfigureAwait(false);
        var mine = new List<VerdictRecord>();
        foreach (var p in pending)
        {
            if (!_inFlight.TryAdd(p.Event.ContentId, 0)) continue; // this process is publishing it right now
            // Locked, then read again: a verdict finished since the list was read is done, not pending.
            if (await _store.TryLockPublishingAsync(p.Event.ContentId, _instance, PublishLockTtl).ConfigureAwait(false)
                && await _store.GetVerdictAsync(p.Event.ContentId).ConfigureAwait(false) is { State: VerdictRecord.Pending } current)
            {
                mine.Add(current);
                continue;
            }
            await _store.UnlockPublishingAsync(p.Event.ContentId, _instance).ConfigureAwait(false);
            _inFlight.TryRemove(p.Event.ContentId, out _);
        }
        if (mine.Count == 0) return 0;
        try
        {
            return await RecoverLockedAsync(mine, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var p in mine) _inFlight.TryRemove(p.Event.ContentId, out _);
        }
    }

    private async Task<int> RecoverLockedAsync(List<VerdictRecord> mine, CancellationToken ct)
    {
        var found = await _publisher.FindPublishedAsync(mine, ct).ConfigureAwait(false);
        int finished = 0;
        foreach (var record in mine)
        {
            try
            {
                await FinishAsync(record, found[record.VerdictId], ct).ConfigureAwait(false);
                finished++;
                _log.LogInformation("recovered the verdict on {ContentId} ({Verdict} by {Reviewer}; already published: verdict {V}, decision {D})",
                    record.Event.ContentId, record.Event.Verdict, record.Event.Reviewer, found[record.VerdictId].Verdict, found[record.VerdictId].Decision);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _log.LogWarning("pending verdict on {ContentId} still not published ({Reason}); retrying", record.Event.ContentId, e.Message);
                await _store.UnlockPublishingAsync(record.Event.ContentId, _instance).ConfigureAwait(false);
            }
        }
        return finished;
    }

    public async Task<ReviewResult> EscalateAsync(string contentId, string reviewer, string? note)
    {
        if (note is { Length: > VerdictEvent.MaxNoteChars }) return ReviewResult.Bad($"note: at most {VerdictEvent.MaxNoteChars} characters");
        var holder = await _store.ClaimedByAsync(contentId).ConfigureAwait(false);
        if (holder != reviewer) return ReviewResult.Conflict(holder is null ? "claim the item first" : $"claimed by {holder}");
        var item = await _store.GetItemAsync(contentId).ConfigureAwait(false);
        if (item is null) return ReviewResult.NotFound("no such item in the queue");
        if (!item.Escalated)
            await _store.UpdateItemAsync(item with
            {
                Escalated = true, EscalatedBy = reviewer, EscalationNote = note is null ? null : SafeText.Escape(note, VerdictEvent.MaxNoteChars),
                Priority = item.Priority + ReviewPriority.EscalationBoost,
            }).ConfigureAwait(false);
        await _store.ReleaseAsync(contentId, reviewer).ConfigureAwait(false);
        return ReviewResult.Ok(new { content_id = contentId, escalated = true });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RecoverAsync(stoppingToken).ConfigureAwait(false);
                var (depth, oldest) = await _store.DepthAsync().ConfigureAwait(false);
                _telemetry.Observe(depth, oldest is { } o ? _time.GetUtcNow() - o : TimeSpan.Zero);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _log.LogWarning("review recovery pass failed ({Reason}); retrying", e.Message);
            }
            try
            {
                await Task.Delay(RecoveryInterval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
