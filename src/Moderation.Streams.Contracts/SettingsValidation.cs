using System.ComponentModel.DataAnnotations;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Runs a settings class's own <c>Validate()</c> (which throws on the first bad setting) as data-annotation validation,
/// so <c>ValidateDataAnnotations().ValidateOnStart()</c> and the CLI's section binding report it like a <c>[Range]</c>.
/// </summary>
public static class SettingsValidation
{
    /// <returns>No result when <paramref name="validate"/> passes; else one naming <paramref name="path"/> and the problem.</returns>
    public static IEnumerable<ValidationResult> Run(Action validate, string path)
    {
        ArgumentNullException.ThrowIfNull(validate);
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            return [new ValidationResult($"{path}: {e.Message}", e.ParamName is { } name ? [name] : [])];
        }
        return [];
    }
}
