"""``cinerec evaluate``: one model, one named protocol, the figures with the protocol beside them.

    cinerec evaluate --data ml-100k --model ease --protocol loo-sampled
    cinerec evaluate --data ./ml-100k --model baseline --protocol ratings-fold --protocol-option fold=all
    cinerec evaluate --data ml-100k --model itemknn --protocol random-full --set neighbors=50 --json
"""

from cinerec.commands import flags

__all__ = ["evaluate"]


def evaluate(
    data: flags.Data,
    model: flags.Model,
    protocol: flags.Protocol = None,
    protocol_option: flags.ProtocolOption = None,
    config: flags.ConfigFile = None,
    set_: flags.Set = None,
    seed: flags.Seed = 0,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Fit a model and measure it under a named protocol.

    Prints the figures with the protocol beside them; nothing is saved.
    """
    from cinerec import progress
    from cinerec.commands.show import print_json, print_leaderboard, say
    from cinerec.data import load

    # Every name and value is checked before the (slow) data load.
    recommender = flags.make_model(model, config, set_, seed)
    protocol_name, options = flags.make_protocol(protocol, protocol_option, recommender)

    with progress.silenced(quiet):
        dataset = load(data, progress=True)  # a bar only while downloading, on a terminal
        prepared_protocol = flags.protocol_for(protocol_name, options, dataset, data)
        say(f"data: {data}: {len(dataset.interactions):,} ratings, {dataset.n_users:,} users, "
            f"{dataset.n_items:,} movies; {prepared_protocol.describe()}", quiet)
        result = prepared_protocol.prepare(dataset, seed=seed).evaluate(recommender)
    if json:
        print_json({"data": data, **result.to_dict()})
    else:
        print_leaderboard([result])
