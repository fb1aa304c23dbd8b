namespace Moderation.Streams.Inference;

/// <summary>The nsfwjs classes, in the order the models emit them.</summary>
public static class ClassLabels
{
    public const string Drawing = "drawing";
    public const string Hentai = "hentai";
    public const string Neutral = "neutral";
    public const string Porn = "porn";
    public const string Sexy = "sexy";

    public static IReadOnlyList<string> All { get; } = [Drawing, Hentai, Neutral, Porn, Sexy];
}
