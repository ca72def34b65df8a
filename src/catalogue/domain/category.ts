/** A heading residents find rewards under ("Museums", "Parks"), named in each language the pages speak. */
export interface CatalogueCategory {
  id: string;
  names: CategoryNames;
  /** order on the page: smaller first, then by id */
  position: number;
}

export interface CategoryNames {
  ru: string;
  en: string;
}

export const MAX_CATEGORY_NAME = 100;
