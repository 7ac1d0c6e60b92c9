-- Headline: the share of Mobile Money customers who are rural (the pilot's figure is 72%).
-- Customers, not transactions: uniq states merge, so each customer counts once over the
-- whole range; a customer's area is fixed, so rural + urban customers = all customers.
-- (The alias is not "customers": it would shadow the column inside uniqMerge.)
SELECT uniqMergeIf(customers, area = 'rural') AS rural_customers,
       uniqMerge(customers) AS active_customers
FROM mobile_money_minute
WHERE minute >= toDateTime({start})
  AND minute < toDateTime({end})
