import type { LeadModel, SplitMetrics } from './model-file.js';

/**
 * The model card (`model_card.md`), in French like the seed project's template: Objectif, Données,
 * Métriques, Risques et usages interdits. Deterministic: the same model gives the same text.
 */
export function renderModelCard(model: LeadModel): string {
  const t = model.training;
  const classes = Object.entries(model.classes)
    .map(([k, c]) => {
      const f = c!.margin_by_lead?.factor;
      const marge = f && f[0] !== f.at(-1) ? `marge ×${f[0]} à ×${f.at(-1)} selon le délai (0, 2, 4, 6 h et plus)` : `marge ×${f?.[0] ?? c!.margin_factor}`;
      const near = Math.max(1, ...(c!.margin_by_ceiling?.factor ?? []));
      const plafond = near > 1 ? `, jusqu'à ×${near} quand le plafond du poêle est à moins de ${c!.margin_by_ceiling!.below_k[0]} K de la consigne` : '';
      return `${k} (${c!.rows} nuits, ${c!.features.length} variables, ${marge}${plafond})`;
    })
    .join(', ');
  const data =
    t.source === 'synthetic'
      ? [
          `Historique d'allumage **synthétique** : chaque nuit de saison de chauffe (octobre à avril) du fichier météo`,
          `\`samples/weather.csv\` (observations quotidiennes NOAA, Seattle et New York, 2012-2015, via le paquet npm`,
          `vega-datasets ; SHA-256 \`${t.weather_sha256 ?? 'n/a'}\`), simulée pour chaque classe DPE A à G par le modèle`,
          `thermique 2R2C de watt (paramètres et sources : \`src/model/dpe-classes.json\`). Consigne et puissance du poêle`,
          `tirées au hasard par nuit (graine ${t.seed}, ${t.variants} tirage(s) par nuit et par classe ; poêles de 6 à 14 kW).`,
          ...(t.cold_variants
            ? [
                `Pour couvrir les grands froids, rares dans ces hivers, chaque nuit est aussi simulée ${t.cold_variants} fois décalée de 3 à`,
                `18 K plus froide (poêles de 4 à 14 kW) ; ces copies servent à l'apprentissage, jamais au test ni au seuil de faisabilité.`,
              ]
            : []),
          `${t.rows} nuits réalisables ; la vérité est le plus petit délai (pas de 5 min, au plus 9 h) qui amène l'air à 0,1 K`,
          `de la consigne à l'heure visée.`,
        ].join('\n')
      : [
          `Historique d'allumage fourni par l'utilisateur : \`${t.name}\` (${t.rows} nuits, SHA-256 \`${t.sha256}\`), validé`,
          `contre \`schemas/ignition_history.schema.json\`.${t.ignored_columns?.length ? ` Colonnes ignorées : ${t.ignored_columns.join(', ')}.` : ''}`,
          `Aucune donnée personnelle n'est nécessaire : date, classe DPE, températures, délai, puissance.`,
        ].join('\n');
  const rows = model.metrics.map(metricRow).join('\n');
  return `# Fiche modèle — watt, délai d'allumage du poêle à granulés

- Version : \`${model.version}\`
- watt : ${model.watt_version}
- Créé le : ${model.created_at ?? 'construction reproductible (modèle par défaut, voir scripts/build-default-model.mjs)'}
- Données d'entraînement (SHA-256) : \`${t.sha256}\`

## Objectif

Conseiller l'heure d'allumage d'un poêle à granulés pour que la pièce atteigne la température
visée (19 °C par défaut) à l'heure visée (07:00 par défaut) en brûlant le moins possible : la
sortie est un délai en minutes avant l'heure visée, borné à [0, ${model.max_lead_min / 60} h]. Au-delà, ou si la
puissance du poêle ne peut pas atteindre la consigne, watt répond « irréalisable » au lieu d'un
nombre. Entrées : classe DPE (A à G), température extérieure, température intérieure à
l'allumage (ou estimation par refroidissement nocturne), consigne, heure visée, puissance.

Méthode : ${model.method}. Classes apprises : ${classes}.

## Données

${data}

## Métriques

Évaluées sur des données **tenues à l'écart** (le modèle livré est ensuite réentraîné sur tout
l'historique). MAE : erreur absolue moyenne du délai conseillé (marge comprise) ; retard : part
des nuits où la pièce a plus de 0,3 K de moins que la consigne à l'heure visée en suivant le
conseil (${model.metrics[0]?.late_check === 'resimulated' ? 're-simulé par le modèle 2R2C' : "conseil plus court que le délai enregistré"}) ;
réduction : temps de marche du poêle par rapport aux horaires fixes « 2 h avant » et « délai fixe
à l'heure 95 % des nuits d'entraînement » ; irréalisables refusées et refus à tort : nuits que le
simulateur juge hors d'atteinte en 9 h, et nuits réalisables, que \`watt predict\` refuse quand on
l'interroge à 22:00 (température extérieure de ce moment, sans \`--indoor\`), ou à l'allumage avec
\`--indoor\`. Frontière de faisabilité apprise : refus si T_ext + P/H_eff - T_consigne <
${model.feasibility?.min_margin_k ?? 0} K.

| découpage | nuits test | MAE (min) | MAE sans marge | retard | poêle h/nuit | kWh/nuit | 2 h fixe : h, retard | p95 fixe : délai, retard | réduction vs 2 h | vs p95 | irréalisables refusées | refus à tort (22:00) | refus à tort (à l'allumage) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows || '| (pas assez de nuits pour une évaluation) | | | | | | | | | | | | | |'}

## Risques et usages interdits

- Le modèle est entraîné sur une maison type de ~100 m² par classe DPE (paramètres
  \`src/model/dpe-classes.json\`) ; une maison réelle diffère (pièce chauffée seule, inertie,
  poêle modulant mal). Entraînez-le sur votre propre historique (\`watt train --data\`) ou gardez
  une marge.
- Sans \`--indoor\`, la température intérieure à l'allumage est estimée (arrêt du poêle à
  ${model.cooldown.stove_off} depuis ${model.cooldown.evening_air_temp_c} °C, extérieur constant) : mesurer est plus sûr.
- Un retard reste possible (voir la colonne « retard »), surtout pour un petit poêle (3 à 6 kW)
  dans une maison D à G dont le plafond dépasse à peine la consigne : l'air extérieur baisse
  jusqu'au matin et le délai nécessaire approche 9 h (environ 8 % des nuits réelles de ce coin
  restent en retard de plus de 10 min sans \`--temp-min\`, aucune sur la grille mesurée avec la
  minimale prévue \`--temp-min\` ; voir docs/benchmarks.md). Poêles de 2,5 à 15 kW ; sous 4 kW,
  une régression propre aux petits poêles (classes A à E). Ne pas s'en servir lorsque le froid
  met en danger des personnes vulnérables (nourrissons, personnes âgées, malades) sans autre
  chauffage ou surveillance.
- Usages interdits : piloter un appareil de chauffage sans présence humaine ni dispositifs de
  sécurité du fabricant ; déduire d'un historique d'allumage les habitudes de présence d'un foyer
  (heures de lever, absences) à des fins de surveillance, de profilage commercial ou de décision
  automatisée à l'égard d'une personne (RGPD art. 22) ; l'historique d'un foyer est une donnée
  personnelle s'il est rattaché à une personne identifiable.
- Durée de conservation des modèles entraînés : 12 mois (politique de conservation de watt).
`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

function metricRow(m: SplitMetrics): string {
  const kwh = (v: number | null) => (v === null ? 'n/a' : v.toFixed(1));
  return `| ${m.split} : ${m.description} | ${m.test_rows} | ${m.mae_min.toFixed(1)} | ${m.mae_raw_min.toFixed(1)} | ${pct(m.late_rate)} | ${m.stove_on_h_per_night.toFixed(2)} | ${kwh(m.kwh_per_night)} | ${m.fixed_2h.stove_on_h_per_night.toFixed(2)} h, ${pct(m.fixed_2h.late_rate)} | ${m.fixed_p95.lead_min} min, ${pct(m.fixed_p95.late_rate)} | ${pct(m.reduction_vs_2h)} | ${pct(m.reduction_vs_p95)} | ${m.infeasible_flagged}/${m.infeasible_nights} | ${m.false_refusals === null || m.false_refusal_rate === null ? 'n/a' : `${m.false_refusals} (${pct(m.false_refusal_rate)})`} | ${pct(m.false_refusal_rate_at_ignition)} |`;
}
