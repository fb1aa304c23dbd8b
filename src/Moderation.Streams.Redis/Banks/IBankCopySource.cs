namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// A store of banks that a worker holds whole in memory, one loaded form (<typeparamref name="TBank"/>) per bank, kept in
/// step by <see cref="BankCopySync{TBank, TCopy}"/>: the text banks and the exact file-hash banks.
/// </summary>
/// <typeparam name="TBank">A bank as it is matched against (a term bank, a list of digests…).</typeparam>
public interface IBankCopySource<TBank> where TBank : class
{
    /// <summary>Calls <paramref name="changed"/> for every change message (on any thread, at any time until
    /// <see cref="UnsubscribeAsync"/>).</summary>
    Task SubscribeAsync(Action changed);

    Task UnsubscribeAsync();

    /// <summary>The store's epoch and the version of every bank it lists, read before any bank is.</summary>
    Task<BankStoreState> GetStateAsync();

    /// <summary>A bank's version (0 when its version key is gone: not a deletion, which keeps counting).</summary>
    Task<long> GetVersionAsync(string bank);

    /// <summary>Loads <paramref name="banks"/> as they are now. A bank no longer in the store is left out of the result.
    /// Throws when one of them cannot be loaded.</summary>
    /// <param name="held">The banks of the copy in memory, to reuse what loading them cost (a meaning bank's embeddings).</param>
    Task<IReadOnlyDictionary<string, TBank>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, TBank> held, CancellationToken ct);
}
