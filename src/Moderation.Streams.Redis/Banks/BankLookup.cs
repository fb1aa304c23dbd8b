using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Redis.Banks;

public readonly record struct BankLookup(BankLookupStatus Status, BankMatch? Match)
{
    public static BankLookup Unavailable => new(BankLookupStatus.Unavailable, null);
}
