namespace Moderation.Streams.Contracts;

/// <summary>
/// Every signal one upload's decision rests on, as a screener gathered them: bank lookup, model scores (or why there
/// are none), what part of the media was not screened, a cached decision being reused, the surface. <see cref="Decider.Decide"/>
/// turns them into the action and its reasons; nothing else does.
/// </summary>
public sealed record UploadSignals
{
    /// <summary>The upload's content id: which uploads a bank tried on a share of traffic acts on
    /// (<see cref="PolicyBankRule.ActsOn"/>).</summary>
    public string ContentId { get; init; } = "";

    /// <summary>The upload's <c>surface</c>: its policy override, if any, applies to the model's scores.</summary>
    public string? Surface { get; init; }

    /// <summary>What the hash banks said.</summary>
    public BankSignal Banks { get; init; } = BankSignal.NotConfigured;

    /// <summary>True (<c>Banks:WhenUnavailable</c> = <c>fail-closed</c>): while the banks cannot be trusted, content is
    /// not allowed on the model alone; false (<c>model</c>): the model decides alone.</summary>
    public bool BanksFailClosed { get; init; } = true;

    /// <summary>The model's scores; null when the model did not run (a bank takedown came first, or it failed).</summary>
    public ModelSignal? Model { get; init; }

    /// <summary>Why the model could not score the upload (its error); null when it did or was not needed.</summary>
    public string? ModelFailure { get; init; }

    /// <summary>What of the media was not screened (<see cref="PartialScreening"/>); null when all of it was.</summary>
    public string? NotCovered { get; init; }

    /// <summary>The upload has text to screen: a caption, or a text item's text.</summary>
    public bool HasText { get; init; }

    /// <summary>A text item (<c>media_type: "text"</c>): no media and no model; its text decides.</summary>
    public bool TextOnly { get; init; }

    /// <summary>Whether the text banks could be asked (<see cref="BankStatus.NotConfigured"/> when none are).</summary>
    public BankStatus TextBanks { get; init; } = BankStatus.NotConfigured;

    /// <summary>What the caption or the text matched in the text banks.</summary>
    public IReadOnlyList<TextHit> TextHits { get; init; } = [];

    /// <summary>A decision on the same content from the decision cache, being reused (<see cref="Decider.MayReuse"/>).</summary>
    public DecisionEvent? Cached { get; init; }
}
