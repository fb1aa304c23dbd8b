namespace Moderation.Streams.Hashing.Banks;

/// <summary>A bank entry found near a query hash.</summary>
/// <param name="Transform">Which dihedral transform of the query matched (Original unless dihedral matching is on).</param>
public readonly record struct BankMatch(BankEntry Entry, int Distance, PdqTransform Transform)
{
    public string Bank => Entry.Bank;
    public string Id => Entry.Id;
}
