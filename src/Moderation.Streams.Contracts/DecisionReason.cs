namespace Moderation.Streams.Contracts;

/// <summary>Why an action was taken. Fields that do not apply to a source are omitted.
/// <para>Every text is escaped (<see cref="SafeText"/>) and cut when the reason is made: ids and messages can come from
/// outside the worker (a bank entry stored by an older version or straight into Redis, an exception's message), and a
/// decision must stay well under the broker's record limit whatever they hold (<see cref="TextLimits"/>).</para></summary>
public sealed record DecisionReason
{
    private readonly string _source = "";
    private readonly string? _bank, _matchId, _model, _label, _code, _message, _field, _kind, _id, _category, _rule, _window, _entryLabel, _entrySource, _digest, _reviewer;

    /// <summary><c>model</c>, <c>bank</c>, <c>text</c>, <c>uploader</c>, <c>campaign</c>, <c>review</c>, <c>cache</c> or <c>fail-closed</c>.</summary>
    public required string Source { get => _source; init => _source = SafeText.Escape(value, TextLimits.ReasonNameChars); }
    public string? Bank { get => _bank; init => _bank = Bounded(value, TextLimits.ReasonNameChars); }
    public int? Distance { get; init; }

    /// <summary>The bank entry's id: at most <see cref="TextLimits.BankIdChars"/> characters, like import allows.</summary>
    public string? MatchId { get => _matchId; init => _matchId = Bounded(value, TextLimits.BankIdChars); }
    public string? Model { get => _model; init => _model = Bounded(value, TextLimits.ReasonNameChars); }
    public string? Label { get => _label; init => _label = Bounded(value, TextLimits.ReasonNameChars); }
    public float? Score { get; init; }
    public float? Threshold { get; init; }
    public string? Code { get => _code; init => _code = Bounded(value, TextLimits.ReasonNameChars); }
    public string? Message { get => _message; init => _message = Bounded(value, TextLimits.ReasonMessageChars); }

    private static string? Bounded(string? value, int maxChars) => value is null ? null : SafeText.Escape(value, maxChars);

    /// <summary>Videos: presentation times (ms) of the sampled frames that drove this reason.</summary>
    public IReadOnlyList<long>? FrameTimestampsMs { get; init; }

    /// <summary>Videos: how many frames were sampled (the M of "N of M frames").</summary>
    public int? FramesSampled { get; init; }

    /// <summary>Text: the event field that matched, <c>caption</c> or <c>text</c>.</summary>
    public string? Field { get => _field; init => _field = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Text: <c>term</c>, <c>domain</c> or <c>text</c> (the kind of bank that matched).</summary>
    public string? Kind { get => _kind; init => _kind = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Text: the bank entry's id.</summary>
    public string? Id { get => _id; init => _id = Bounded(value, TextLimits.BankIdChars); }

    /// <summary>Text: the bank entry's category (the policy's <c>text</c> rules map it to an action).</summary>
    public string? Category { get => _category; init => _category = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Text: where the match lies in the field, UTF-16 offsets into the original text.</summary>
    public int? Start { get; init; }
    public int? End { get; init; }

    /// <summary>Text, meaning banks: the cosine similarity to the banked text (instead of a span).</summary>
    public float? Similarity { get; init; }

    /// <summary>Uploader: the rule that fired, <c>strikes</c> or <c>velocity</c>.</summary>
    public string? Rule { get => _rule; init => _rule = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Uploader: the uploader's count in the rule's window (strikes before this upload; uploads including it).</summary>
    public int? Count { get; init; }

    /// <summary>Uploader and campaign: the rule's window as the policy writes it (<c>7d</c>, <c>1m</c>).</summary>
    public string? Window { get => _window; init => _window = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Bank: the matched entry's label as imported (the category on the sharing list), at most
    /// <see cref="TextLimits.BankLabelChars"/> characters like import allows; omitted when the entry has none.</summary>
    public string? EntryLabel { get => _entryLabel; init => _entryLabel = Bounded(value, TextLimits.BankLabelChars); }

    /// <summary>Bank: where the matched entry came from (the imported file or list), at most
    /// <see cref="TextLimits.BankLabelChars"/> characters; omitted when not recorded.</summary>
    public string? EntrySource { get => _entrySource; init => _entrySource = Bounded(value, TextLimits.BankLabelChars); }

    /// <summary>Bank: when the matched entry was added to its bank.</summary>
    public DateTimeOffset? AddedAt { get; init; }

    /// <summary>Bank: an exact file-hash bank matched the media bytes, <c>md5</c> or <c>sha256</c>; omitted for PDQ.</summary>
    public string? Digest { get => _digest; init => _digest = Bounded(value, TextLimits.ReasonNameChars); }

    /// <summary>Campaign: distinct uploaders of the same picture in the window, this upload's included.</summary>
    public int? Uploaders { get; init; }

    /// <summary>Review: the reviewer whose verdict this decision is (<c>{"source":"review","reviewer":…}</c>).</summary>
    public string? Reviewer { get => _reviewer; init => _reviewer = Bounded(value, TextLimits.ReasonNameChars); }
}
