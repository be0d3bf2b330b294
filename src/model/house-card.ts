import type { HouseModel } from './house-model.js';

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
      ].join('\n')
    : "Historique trop court pour une évaluation tenue à l'écart (25 nuits au moins).";
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
Marge : facteur ×${m.margin.factor} (quantile ${m.margin.quantile}), z = ${m.margin.z} + ${m.margin.z_per_distance} × distance hors historique.

${evalText}

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
