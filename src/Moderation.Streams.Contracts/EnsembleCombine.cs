namespace Moderation.Streams.Contracts;

/// <summary>How an ensemble's scores combine, class by class.</summary>
public static class EnsembleCombine
{
    public const string Max = "max";
    public const string Mean = "mean";
    public const string Weighted = "weighted";
    public static IReadOnlyList<string> All { get; } = [Max, Mean, Weighted];
}
