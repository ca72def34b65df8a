import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, Roles } from '../common/access';
import { notFound } from '../common/errors';
import { SLUG_ID } from '../common/identifiers';
import { ApiProblems } from '../common/openapi';
import { CategoriesService } from './categories.service';
import { CategoryDto, CategoryListDto, CreateCategoryDto, UpdateCategoryDto } from './dto/category.dto';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin/categories')
export class CategoriesAdminController {
  constructor(private readonly categories: CategoriesService) {}

  @Post()
  @ApiOperation({ summary: 'Add a catalogue category, named in Russian and English' })
  @ApiCreatedResponse({ type: CategoryDto })
  @ApiProblems('validation_failed', 'already_exists')
  async create(@Body() b: CreateCategoryDto): Promise<CategoryDto> {
    return CategoryDto.of(await this.categories.create({ id: b.id, names: { ru: b.names.ru, en: b.names.en }, position: b.position ?? 0 }));
  }

  @Get()
  @ApiOperation({ summary: 'Every category with how many items (active or not) use it' })
  @ApiOkResponse({ type: CategoryListDto })
  async list(): Promise<CategoryListDto> {
    return { items: (await this.categories.list()).map(CategoryDto.of) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A category' })
  @ApiOkResponse({ type: CategoryDto })
  @ApiProblems('not_found')
  async get(@Param('id') id: string): Promise<CategoryDto> {
    return CategoryDto.of(await this.categories.get(slug(id)));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a category or move it on the page' })
  @ApiOkResponse({ type: CategoryDto })
  @ApiProblems('validation_failed', 'not_found')
  async update(@Param('id') id: string, @Body() b: UpdateCategoryDto): Promise<CategoryDto> {
    return CategoryDto.of(await this.categories.update(slug(id), { names: b.names, position: b.position }));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a category that no item uses (else 409 invalid_state)' })
  @ApiNoContentResponse()
  @ApiProblems('not_found', 'invalid_state')
  async delete(@Param('id') id: string): Promise<void> {
    await this.categories.delete(slug(id));
  }
}

@ApiTags('catalogue')
@Public()
@Controller('v1/catalogue/categories')
export class PublicCategoriesController {
  constructor(private readonly categories: CategoriesService) {}

  @Get()
  @ApiOperation({ summary: 'The catalogue’s categories in page order, with how many active items each holds' })
  @ApiOkResponse({ type: CategoryListDto })
  async list(): Promise<CategoryListDto> {
    return { items: (await this.categories.list(new Date())).map(CategoryDto.of) };
  }
}

/** A path id that cannot be a category's (say, with a NUL byte) is simply not found, before any query. */
function slug(id: string): string {
  if (!SLUG_ID.test(id)) throw notFound(`category ${id.slice(0, 64)}`);
  return id;
}
