using System.CommandLine;
using Moderation.Streams.Contracts;
using Moderation.Streams.Evaluation;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation evaluate --labels labels.csv [--model NAME]… [--policy FILE] [--target-precision P] [--out DIR]
/// [--max-review-share S] [--write-policy FILE]</c>: scores a labelled set, prints per-class precision/recall/F1, the
/// confusion matrix, the threshold reaching the target precision, and current vs proposed policy; writes the report
/// folder (plots, summary.md, scores.csv, proposed-policy.json). A class without labelled examples keeps the base
/// policy's thresholds, and review bands are raised until at most S of the set goes to review. Exit 0 when the
/// proposed policy meets the target on the set and is safe, 1 when it misses the target, would drop or raise a
/// threshold of a class without examples or review more than S (then --write-policy writes nothing), or images
/// failed; 2 on bad usage (unknown model, malformed labels or policy).
/// <para><c>moderation evaluate --texts FILE.csv --redis CONFIG [--target-precision P]</c>: precision and recall per
/// category of the text banks in Redis on a labelled set of texts (<see cref="TextEvaluateCommand"/>); the same exit
/// codes: 0 when every category's precision reaches the target, 1 when one misses it, 2 on bad usage.</para>
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var labels = new Option<string>("--labels") { Description = "CSV of path,label rows (paths relative to it), or a folder with one sub-folder per label. Labels: drawing, hentai, neutral, porn, sexy — or safe/unsafe. Required unless --texts is given." };
        var texts = new Option<string?>("--texts") { Description = "Evaluate the text banks instead: a CSV of text,label rows (label: a category, or none/benign/safe), checked against the text banks in --redis." };
        var redis = CommonOptions.Redis();
        redis.Description = "With --texts: the Redis whose text banks are evaluated (StackExchange.Redis configuration string, or env Redis__Configuration)";
        var models = new Option<string[]>("--model")
        {
            Description = $"Model to evaluate ({string.Join(", ", ModelRegistry.All.Select(m => m.Name))}); repeat for an ensemble.",
            DefaultValueFactory = _ => [],
            AllowMultipleArgumentsPerToken = false,
        };
        var combine = new Option<string>("--combine") { Description = "How an ensemble combines: max, mean or weighted.", DefaultValueFactory = _ => EnsembleCombine.Mean };
        combine.AcceptOnlyFromAmong([.. EnsembleCombine.All]);
        var weights = new Option<float[]>("--weights") { Description = "Ensemble weights, one per --model (with --combine weighted).", AllowMultipleArgumentsPerToken = true };
        var policy = new Option<string?>("--policy") { Description = "Base policy (its takedown classes are what counts as unsafe; default: the built-in policy). Its ensemble is used when no --model is given." };
        var target = new Option<double>("--target-precision") { Description = "Takedown precision the proposed policy must reach on the set.", DefaultValueFactory = _ => 0.95 };
        var review = new Option<double>("--review-precision") { Description = "Precision of the proposed review band.", DefaultValueFactory = _ => 0.5 };
        var maxReview = new Option<double>("--max-review-share")
        {
            Description = "Largest share of the set the proposed policy may send to review (0-1); review bands are raised to stay under it.",
            DefaultValueFactory = _ => EvaluationSettings.DefaultMaxReviewShare,
        };
        var output = new Option<string>("--out") { Description = "Report folder.", DefaultValueFactory = _ => "evaluation-report" };
        var writePolicy = new Option<string?>("--write-policy") { Description = "Also write the proposed policy to this file (not when it is unsafe: see the exit codes)." };
        var version = new Option<string?>("--policy-version") { Description = "Version of the proposed policy (default: the base version + '+eval')." };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Folder of the .onnx files (default: models/ next to the executable)." };

        var command = new Command("evaluate", "Precision/recall, confusion matrix and threshold sweep of a labelled set, with plots and a proposed policy.");
        foreach (var o in new Option[] { labels, texts, redis, models, combine, weights, policy, target, review, maxReview, output, writePolicy, version, modelsDir }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            double targetPrecision = parse.GetValue(target), reviewPrecision = parse.GetValue(review);
            if (targetPrecision is <= 0 or > 1 || reviewPrecision is <= 0 or > 1) return Usage("--target-precision and --review-precision must be in (0, 1]");
            if (parse.GetValue(texts) is { } textsFile)
            {
                if (parse.GetValue(labels) is not null) return Usage("--texts and --labels evaluate different things: give one");
                return await TextEvaluateCommand.RunAsync(textsFile, parse.GetValue(redis) ?? Environment.GetEnvironmentVariable("Redis__Configuration"), targetPrecision, ct);
            }
            if (parse.GetValue(labels) is null) return Usage("--labels (images) or --texts (text banks) is required");
            double reviewShare = parse.GetValue(maxReview);
            if (reviewShare is < 0 or > 1 || double.IsNaN(reviewShare)) return Usage("--max-review-share must be in [0, 1]");
            Policy basePolicy;
            LabelledSet set;
            try
            {
                basePolicy = parse.GetValue(policy) is { } policyPath ? Policy.Load(policyPath, [.. ModelRegistry.All.Select(m => m.Name)]) : Policy.Default;
                set = LabelledSet.Load(parse.GetValue(labels)!);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                return Usage(e.Message);
            }
            var names = parse.GetValue(models) is { Length: > 0 } given ? given : basePolicy.Ensemble?.Models.ToArray() ?? [ModelRegistry.DefaultModelName];
            var how = parse.GetValue(models) is { Length: > 0 } ? parse.GetValue(combine)! : basePolicy.Ensemble?.Combine ?? EnsembleCombine.Mean;
            var w = parse.GetValue(models) is { Length: > 0 } ? parse.GetValue(weights) : basePolicy.Ensemble?.Weights?.ToArray();
            foreach (var name in names)
                if (!ModelRegistry.TryGet(name, out _)) return Usage(ModelRegistry.DescribeUnknown(name));
            if (names.Length > 1 && how == EnsembleCombine.Weighted && (w is null || w.Length != names.Length)) return Usage($"--combine weighted needs {names.Length} --weights");

            var loaded = new List<OnnxImageClassifier>();
            try
            {
                foreach (var name in names) loaded.Add(OnnxImageClassifier.Load(name, parse.GetValue(modelsDir)));
                IImageClassifier classifier = loaded.Count == 1 ? loaded[0] : new EnsembleClassifier(loaded, how, w);
                Console.Error.WriteLine($"evaluate: {set.Images.Count} images from {set.Source} with {classifier.Model.VersionedName} on {classifier.Device}");
                var (scored, failed) = ImageScorer.Score(set, classifier);
                foreach (var f in failed) Console.Error.WriteLine($"moderation evaluate: {f}");
                if (scored.Count == 0) return Fail("no image could be read");

                var result = Evaluator.Evaluate(scored, set.Mode, basePolicy, new EvaluationSettings
                {
                    TargetPrecision = targetPrecision,
                    ReviewPrecision = reviewPrecision,
                    ProposedVersion = parse.GetValue(version),
                    Model = classifier.Model.Name,
                    MaxReviewShare = reviewShare,
                });
                var folder = parse.GetValue(output)!;
                var files = EvaluationReport.Write(result, folder, set.Source);
                Console.Out.Write(EvaluationReport.Markdown(result, set.Source));
                foreach (var problem in result.Problems) Console.Error.WriteLine($"moderation evaluate: unsafe proposal: {problem}");
                if (parse.GetValue(writePolicy) is { } policyOut)
                {
                    if (result.Problems.Count == 0) File.WriteAllText(policyOut, PolicyFile.ToJson(result.Proposed));
                    else Console.Error.WriteLine($"moderation evaluate: {policyOut} not written: the proposal would weaken the policy");
                }
                Console.Error.WriteLine($"evaluate: report in {Path.GetFullPath(folder)} ({files.Count} files)");
                return result.MeetsTarget && result.Problems.Count == 0 && failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException)
            {
                return Fail(e.Message);
            }
            finally
            {
                foreach (var c in loaded) c.Dispose();
            }
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"moderation evaluate: {message}");
        return ExitCodes.Usage;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"moderation evaluate: {message}");
        return ExitCodes.Failure;
    }
}
