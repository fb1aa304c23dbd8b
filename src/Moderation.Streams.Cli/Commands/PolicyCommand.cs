using System.CommandLine;
using System.Globalization;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation policy check [FILE]</c>: reads a policy file exactly as the worker loads it (<see cref="PolicyFile.ReadFile"/>
/// then <see cref="PolicyFile.Check"/>, with the registered models as the ones an ensemble or shadow may name) and prints
/// one line per problem, or what the policy decides. Without FILE it checks the configured <c>Screening:PolicyFile</c>.
/// </summary>
internal static class PolicyCommand
{
    public static Command Create()
    {
        var command = new Command("policy", "Policy files: check one before a worker loads it.");
        command.Subcommands.Add(Check());
        return command;
    }

    private static Command Check()
    {
        var file = new Argument<string?>("FILE")
        {
            Description = "Policy JSON file; default: the configured Screening:PolicyFile (appsettings.json, env Screening__PolicyFile)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("check", "Validates a policy file as the worker would load it: one line per problem ('FILE: line N: FIELD: PROBLEM') " +
            "and exit 1 when invalid; when valid, what it decides (thresholds, surfaces, banks, text, unscreenable, ensemble, shadow) and exit 0.")
        {
            file,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file);
            if (string.IsNullOrEmpty(path))
            {
                try
                {
                    path = ScreeningSettings.Load([]).Screening.PolicyFile;
                }
                catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException or ArgumentException)
                {
                    return Usage($"invalid configuration: {e.Message}");
                }
                if (string.IsNullOrEmpty(path)) return Usage("give FILE, or configure Screening:PolicyFile (without one the worker runs the built-in policy)");
            }
            if (!File.Exists(path) && !Directory.Exists(path)) return Usage($"no such policy file: {path}");

            byte[] bytes;
            try
            {
                bytes = PolicyFile.ReadFile(path);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"moderation policy check: {(e is InvalidDataException ? e.Message : $"{path}: {e.Message}")}");
                return ExitCodes.Failure;
            }
            var (policy, problems) = PolicyFile.Check(bytes, [.. ModelRegistry.All.Select(m => m.Name)]);
            if (policy is null)
            {
                foreach (var problem in problems) Console.Out.WriteLine($"{path}: {problem.Text}");
                Console.Error.WriteLine($"moderation policy check: {path}: invalid: {problems.Count} problem{(problems.Count == 1 ? "" : "s")}; a worker refuses it (at start) or keeps its running policy (on reload)");
                return ExitCodes.Failure;
            }
            foreach (var line in Describe(policy)) Console.Out.WriteLine(line);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"moderation policy check: {message}");
        return ExitCodes.Usage;
    }

    /// <summary>What a valid policy decides, one line per part, starting with <c>valid: version V</c>.</summary>
    internal static IEnumerable<string> Describe(Policy policy)
    {
        static string Table(IReadOnlyDictionary<string, float>? table) => table is not { Count: > 0 } ? "none"
            : string.Join(", ", table.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} >= {kv.Value}")));
        static string Rules(IReadOnlyDictionary<string, string> rules, string otherwise) =>
            string.Join(", ", rules.Where(kv => kv.Key != Policy.AnyBank).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} -> {kv.Value}")
                .Append($"any other -> {(rules.TryGetValue(Policy.AnyBank, out var any) ? any : otherwise + " (default)")}"));

        yield return $"valid: version {policy.Version}";
        yield return $"takedown: {Table(policy.Takedown)}";
        yield return $"review: {Table(policy.Review)}";
        foreach (var (surface, o) in policy.Surfaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            yield return $"surface {surface}: takedown {Table(o.Takedown)}; review {Table(o.Review)} (other classes: the base thresholds)";
        yield return $"banks: {Rules(policy.Banks.ToDictionary(kv => kv.Key, kv => Describe(kv.Value)), Actions.Takedown)}";
        yield return $"text: {Rules(policy.Text, Actions.Review)}";
        yield return $"unscreenable: {policy.Unscreenable}";
        if (policy.BankFloods is { } floods)
            yield return $"bank floods: an entry matching more than {floods.MaxUploads} uploads in {floods.Window} is review-only until released";
        if (policy.Uploaders is { } u)
            yield return "uploaders: " + string.Join("; ", new[]
            {
                u.Strikes is { } st ? $"review at {st.ReviewAt} strikes in {st.Window}" : null,
                u.Velocity is { } v ? $"review at {v.ReviewAt} uploads in {v.Window}" : null,
                u.Campaigns is { } c ? $"{c.Action} when {c.DistinctUploaders} uploaders post one picture (within {c.MaxDistance} bits) in {c.Window}" : null,
            }.OfType<string>());
        yield return policy.Ensemble is { } e
            ? $"ensemble: {string.Join(" + ", e.Models)} combined by {e.Combine}" + (e.Weights is { } w ? string.Create(CultureInfo.InvariantCulture, $" (weights {string.Join(", ", w)})") : "")
            : "ensemble: none (the worker's Screening:Model decides)";
        yield return policy.Shadow is { } s
            ? $"shadow: {s.Model}" + (s.Takedown is null && s.Review is null ? " (the live thresholds)" : $" (takedown {Table(s.Takedown ?? policy.Takedown)}; review {Table(s.Review ?? policy.Review)})")
            : "shadow: none";
    }

    private static string Describe(PolicyBankRule rule) =>
        rule.MaxDistance is null && rule.MinQuality is null && rule.Enabled == 1.0 ? rule.Action
            : rule.Action + " (" + string.Join(", ", new[]
            {
                rule.MaxDistance is int d ? $"within {d} bits" : null,
                rule.MinQuality is int q ? $"quality >= {q}" : null,
                rule.Enabled == 0 ? "observe only: matches recorded on the shadow topic"
                    : rule.Enabled < 1 ? string.Create(CultureInfo.InvariantCulture, $"on {rule.Enabled:0.###%} of uploads, the rest recorded on the shadow topic") : null,
            }.OfType<string>()) + ")";
}
