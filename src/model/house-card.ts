import type { HouseModel } from './house-model.js';
import { readFileSync } from 'node:fs';
import { assetPath } from '../paths.js';

/** The controller-style figures of the method on the project's generated houses (written by `npm run bench:house`). */
interface ControllerReference {
  measured: string;
  houses: { kind: string; protocol: string; answered: number; plain: number; mae_min: number; bias_min: number; late_rate: number }[];
}

function controllerReference(): ControllerReference | undefined {
  try {
    return JSON.parse(readFileSync(assetPath('src', 'model', 'controller-reference.json'), 'utf8')) as ControllerReference;
  } catch {
    return undefined;
  }
}

/**
 * The model card of a calibrated house (`model_card.md`), in French like the class models' card:
 * Objectif, Données, Métriques (with the calibrated parameters and their uncertainty), Risques et
 * usages interdits. Deterministic.
 */
export function renderHouseCard(m: HouseModel): string {
  const h = m.heating;
  const c = m.cooldown;
  const t = m.training;
  const e = m.evaluation;
  const f = (x: number, d = 1) => x.toFixed(d);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const evalText = e
    ? [
        `Découpage chronologique : ${e.description}.`,
        '',
        '| nuits test | répondues | refusées | MAE (min) | p90 erreur abs. (min) | biais (min) | retard (> 5 min) |',
        '|---|---|---|---|---|---|---|',
        `| ${e.test_nights} | ${e.answered} | ${e.refused} | ${f(e.mae_min, 2)} | ${f(e.p90_abs_err_min)} | ${f(e.bias_min)} | ${pct(e.late_rate)} |`,
        '',
        "Courbe d'apprentissage (mêmes nuits test) : " +
          (e.learning_curve.length ? e.learning_curve.map((p) => `${p.train_nights} premières nuits → MAE ${f(p.mae_min, 2)} min, retard ${pct(p.late_rate)}, ${p.refused} refus`).join(' ; ') : 'historique trop court') +
          '.',
        'Les nuits refusées sont comptées à part, jamais notées comme un conseil de 540 min.',
        ...(e.baselines
          ? [
              '',
              'Le modèle face à ses références, sur les mêmes nuits test (références construites sur les mêmes nuits d\'entraînement) :',
              '',
              '| conseil | MAE (min) | biais (min) | retard (> 5 min) |',
              '|---|---|---|---|',
              `| modèle (avec marge) | ${f(e.mae_min, 2)} | ${f(e.bias_min)} | ${pct(e.late_rate)} |`,
              `| modèle sans marge | ${f(e.baselines.raw.mae_min, 2)} | ${f(e.baselines.raw.bias_min)} | ${pct(e.baselines.raw.late_rate)} |`,
              `| table par température extérieure (médiane ± 1 K) | ${f(e.baselines.lookup.mae_min, 2)} | ${f(e.baselines.lookup.bias_min)} | ${pct(e.baselines.lookup.late_rate)} |`,
            ]
          : []),
      ].join('\n')
    : "Historique trop court pour une évaluation tenue à l'écart (25 nuits au moins).";
  const ref = controllerReference();
  const refText = ref
    ? [
        '',
        `Évaluation « façon régulateur » de la méthode (pas de cette maison : aucun simulateur ne la connaît) sur les maisons générées par le projet (\`npm run bench:house\`, ${ref.measured}) : un régulateur relit l'air intérieur et extérieur toutes les 5 min depuis l'arrêt du poêle et allume dès que le délai conseillé atteint les minutes restantes ; « une question » demande une fois, à l'allumage réel.`,
        '',
        '| maison | protocole | répondues | réponses simples | MAE (min) | biais (min) | retard |',
        '|---|---|---|---|---|---|---|',
        ...ref.houses.map((r) => `| ${r.kind} | ${r.protocol} | ${r.answered} | ${r.plain} | ${f(r.mae_min)} | ${f(r.bias_min)} | ${pct(r.late_rate)} |`),
      ].join('\n')
    : '';
  return `# Fiche modèle — watt, maison calibrée

- Version : \`${m.version}\`
- watt : ${m.watt_version}
- Créé le : ${m.created_at ?? 'n/a'}
- Données d'entraînement (SHA-256) : \`${t.sha256}\`

## Objectif

Conseiller l'heure d'allumage du poêle à granulés de **cette maison** pour atteindre la consigne à
l'heure visée, à partir de son propre historique d'allumage. Sortie : un délai en minutes
(au plus ${m.max_lead_min / 60} h) ; « irréalisable » seulement quand la physique calibrée dit que la consigne ne
peut pas être atteinte (plafond du poêle T_ext + P/H_eff sous la consigne, ou plus de ${m.max_lead_min / 60} h).

Méthode : ${m.method}.

## Données

Historique fourni par l'utilisateur : \`${t.name}\` (${t.rows} nuits, SHA-256 \`${t.sha256}\`), validé contre
\`schemas/ignition_history.schema.json\` puis contrôlé (dates en double, unités, colonnes constantes).
Classe DPE déclarée : ${m.dpe_class} (sert d'a priori : la maison type de la classe).
${t.warnings?.length ? `Avertissements : ${t.warnings.join(' ; ')}.` : ''}
Nuits vues : extérieur ${m.seen.outdoor_temp_c[0]} à ${m.seen.outdoor_temp_c[1]} °C, intérieur à l'allumage ${m.seen.indoor_start_temp_c[0]} à ${m.seen.indoor_start_temp_c[1]} °C,
consigne ${m.seen.target_temp_c[0]} à ${m.seen.target_temp_c[1]} °C, poêle ${m.seen.stove_power_kw[0]} à ${m.seen.stove_power_kw[1]} kW. Au-delà, la réponse vient de la physique
calibrée avec une marge élargie et porte \`"extrapolated": true\`.

## Métriques

Paramètres calibrés (écart-type issu de la covariance du jacobien de Levenberg-Marquardt, a priori inclus) :

| paramètre | valeur | écart-type | a priori (classe ${m.dpe_class}) |
|---|---|---|---|
| H, coefficient de déperdition (W/K) | ${f(h.h_w_per_k.value)} | ${f(h.h_w_per_k.sd)} | ${f(h.prior.h_w_per_k)} (× e^±${h.prior.sd_ln_h}) |
| τ = C/H, constante de temps (min) | ${f(h.tau_min.value)} | ${f(h.tau_min.sd)} | ${f(h.prior.tau_min)} (× e^±${h.prior.sd_ln_tau}) |
| d, délai de démarrage du poêle (min) | ${f(h.delay_min.value)} | ${f(h.delay_min.sd)} | ${f(h.prior.delay_min)} ± ${h.prior.sd_delay_min} |
| refroidissement : air au soir (°C) | ${f(c.evening_air_temp_c)} | ${f(c.sd_evening_c, 2)} | |
| refroidissement : constante de temps (min) | ${f(c.tau_min)} | ${f(c.sd_tau_min)} | |

Échelle robuste des résidus : ${f(h.residual_scale_min, 2)} min (${h.downweighted_nights} nuits pondérées à la baisse par la perte de Huber sur ${h.nights}).
${marginText(m)}
${qualityText(m)}

${evalText}
${refText}

## Risques et usages interdits

- Le modèle ne connaît que les nuits de l'historique ; hors de celles-ci (plus froid, autre consigne,
  autre poêle) il extrapole avec la physique calibrée et le signale. L'air extérieur qui baisse après
  l'allumage n'est pas enregistré : un petit poêle près de son plafond peut rester en retard.
- Sans \`--indoor\`, la température intérieure à l'allumage est estimée par le refroidissement calibré
  (arrêt du poêle à ${c.stove_off}) : mesurer est plus sûr.
- Ne pas s'en servir lorsque le froid met en danger des personnes vulnérables sans autre chauffage.
- Usages interdits : piloter un appareil de chauffage sans présence humaine ; déduire de l'historique
  les habitudes de présence d'un foyer (surveillance, profilage, décision automatisée, RGPD art. 22) ;
  l'historique d'un foyer est une donnée personnelle s'il est rattaché à une personne identifiable.
- Durée de conservation des modèles entraînés : 12 mois (politique de conservation de watt).
`;
}

function marginText(m: HouseModel): string {
  const b = m.margin.bands;
  const z = `z = ${m.margin.z} + ${m.margin.z_per_distance} × distance hors historique`;
  if (!b) return `Marge : facteur ×${m.margin.factor} (quantile ${m.margin.quantile}), ${z}.`;
  const head = b.lead_from_min.map((l, i) => (i + 1 < b.lead_from_min.length ? `${l}-${b.lead_from_min[i + 1]} min` : `≥ ${l} min`));
  const rows = b.headroom_below_k.map((h, i) => {
    const lo = b.headroom_below_k[i + 1];
    const label = h === null ? `≥ ${lo} K` : lo === undefined ? `< ${h} K` : `${lo}-${h} K`;
    return `| ${label} | ${b.factor[i]!.map((x, j) => `×${x.toFixed(3)} (${b.nights[i]![j]})`).join(' | ')} |`;
  });
  return [
    `Marge par bande (issue 19) : un facteur sur (délai + 15) par bande de délai brut et de réserve du poêle (plafond T_ext + P/H_eff à l'air le plus froid de la nuit, moins la consigne), appris sur les erreurs hors échantillon chronologiques (chaque nuit conseillée par une calibration qui ne l'a pas vue, ni aucune nuit plus récente), au moindre coût en minutes pour au plus ${(b.late_target * 100).toFixed(1)} % de retards ; ${z}.`,
    `Sur ${b.oof_nights} nuits hors échantillon : retard ${(b.oof_late_rate * 100).toFixed(1)} %, +${b.oof_added_min.toFixed(1)} min en moyenne. Entre parenthèses : nuits de la bande.`,
    '',
    `| réserve \\ délai brut | ${head.join(' | ')} |`,
    `|---|${head.map(() => '---').join('|')}|`,
    ...rows,
    '',
    `Réserve ≤ 0 K à l'air le plus froid annoncé (\`--temp-min\`), ou délai avec marge au-delà de ${m.max_lead_min / 60} h : réponse simple « garder le poêle allumé au ralenti cette nuit » (\`feasible: false\`, \`advice: keep-on\`), jamais un délai confiant qui arrive en retard.`,
    '',
    m.heating.temp_min_weight ? `Minimum annoncé : le chauffage rencontre l'air extérieur à ${(m.heating.temp_min_weight.value * 100).toFixed(0)} % (± ${(m.heating.temp_min_weight.sd * 100).toFixed(0)}) du chemin entre l'air à l'allumage et \`temp_min_c\`.` : null,
    '',
    m.heating.structure_choice?.method === 'hold-out' ? `Structure à deux nœuds choisie sur les ${m.heating.structure_choice.selection_nights} nuits les plus récentes de l'entraînement : ${m.heating.structure_choice.chosen} (MAE brute : ${m.heating.structure_choice.candidates.map((c) => `${c.name} ${c.mae_min.toFixed(1)} min`).join(', ')}).` : 'Structure à deux nœuds : celle de la table des classes DPE (historique trop court pour en choisir une autre).',
    m.heating.kept_on_nights ? `${m.heating.kept_on_nights} nuit(s) où le poêle est resté allumé (intérieur à la consigne ou au-dessus, délai positif) mises de côté de la calibration.` : null,
  ].filter((x) => x !== null).join('\n');
}

function qualityText(m: HouseModel): string {
  const q = m.quality;
  if (!q) return '';
  if (q.status === 'unrated') return 'Qualité : non évaluée (moins de 25 nuits).';
  if (q.status === 'ok') return "Qualité : ok (contrôle à l'entraînement : sans marge pas pire que la table par température, |biais| ≤ max(15 min, 25 % du délai moyen), retard ≤ 3 %).";
  return `Qualité : **insuffisante** (${q.reasons.join(' ; ')}), modèle enregistré avec \`--accept-poor\` : \`watt predict\` et \`watt serve\` ajoutent un avertissement à chaque réponse.`;
}
