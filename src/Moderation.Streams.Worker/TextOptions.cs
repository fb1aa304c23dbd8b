using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Worker;

/// <summary>Text signal settings (configuration section <c>Text</c>): how long a caption and a text item may be
/// (characters = Unicode scalar values); longer is <c>invalid-event</c>. Defaults are the contract's (<see cref="EventLimits"/>).</summary>
public sealed class TextOptions
{
    /// <summary>Longest <c>caption</c> accepted (<c>Text:MaxCaptionChars</c>).</summary>
    [Range(1, 1_000_000)]
    public int MaxCaptionChars { get; set; } = EventLimits.Default.MaxCaptionChars;

    /// <summary>Longest <c>text</c> of a text item accepted (<c>Text:MaxTextChars</c>).</summary>
    [Range(1, 1_000_000)]
    public int MaxTextChars { get; set; } = EventLimits.Default.MaxTextChars;

    /// <summary>Which sentence model meaning banks run (<c>Text:ModelPrecision</c>): <c>Int8</c> (default; about twice
    /// as fast on a CPU) or <c>Fp32</c>. Every vector a worker compares is made by the one it runs.</summary>
    public Text.Embeddings.SentencePrecision ModelPrecision { get; set; } = Text.Embeddings.SentencePrecision.Int8;

    /// <summary>How many distinct texts' sentence vectors a worker keeps for texts seen again
    /// (<c>Text:EmbeddingCacheEntries</c>; 0 keeps none; ~1.5 KiB each).</summary>
    [Range(0, 1_000_000)]
    public int EmbeddingCacheEntries { get; set; } = Text.Embeddings.BatchedTextEmbedder.DefaultCacheEntries;

    /// <summary>The event limits these settings make.</summary>
    public EventLimits ToEventLimits() => EventLimits.Default with { MaxCaptionChars = MaxCaptionChars, MaxTextChars = MaxTextChars };
}
